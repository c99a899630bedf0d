FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir pip --upgrade
COPY . .
RUN pip install --no-cache-dir -e .
EXPOSE 8000

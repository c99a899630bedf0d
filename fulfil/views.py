from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return TemplateResponse(request, "home.html", {})


def health(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok"})

"""The real URLs plus one tiny create endpoint, to test ``fulfil.api.idempotent`` on its own."""

from django.urls import path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfil.api import idempotent
from fulfil.audit import audit_record
from fulfil.urls import urlpatterns as real_urlpatterns


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=50)


class NoteCreateApi(APIView):
    """Creates an audit entry per call: a stand-in for any create endpoint."""

    @idempotent
    def post(self, request):
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["text"] == "explode":
            return Response({"detail": "downstream failed"}, status=502)
        entry = audit_record(
            obj_type="test.note", obj_id=0, action="created", after=serializer.validated_data
        )
        return Response({"id": entry.pk, "text": entry.after["text"]}, status=status.HTTP_201_CREATED)


urlpatterns = [path("api/v1/test-notes/", NoteCreateApi.as_view()), *real_urlpatterns]

"""REST API for readiness reports: run one for an environment, or list its past runs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.choices import EnvironmentKind, ReadinessVerdict
from integrations.models import Environment, ReadinessReport
from integrations.services.readiness import readiness_json, readiness_run


class IsStaff(permissions.BasePermission):
    """Staff only, until these views move to the API's role permissions."""

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.is_staff)


class ReadinessResultSerializer(serializers.Serializer):
    """One check on one target."""

    check = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    verdict = serializers.ChoiceField(choices=ReadinessVerdict.choices, read_only=True)
    target = serializers.CharField(read_only=True, allow_blank=True)
    message = serializers.CharField(read_only=True, allow_blank=True)
    fix = serializers.CharField(read_only=True, allow_blank=True)
    evidence = serializers.JSONField(read_only=True)


class ReadinessEnvironmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=EnvironmentKind.choices, read_only=True)
    base_url = serializers.CharField(read_only=True)


class ReadinessReportSerializer(serializers.Serializer):
    """A stored report as its redacted JSON export (the document sent to the customer).

    The fields describe the document for OPTIONS and the OpenAPI schema; the data
    itself is readiness_json's, so the API and the downloads never differ.
    """

    report = serializers.IntegerField(read_only=True)
    customer = serializers.CharField(read_only=True)
    environment = ReadinessEnvironmentSerializer(read_only=True)
    run_by = serializers.CharField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True)
    ready = serializers.BooleanField(read_only=True)
    summary = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    results = ReadinessResultSerializer(many=True, read_only=True)

    def to_representation(self, instance: ReadinessReport) -> dict[str, Any]:
        return readiness_json(instance)


class EnvironmentReadinessView(generics.ListCreateAPIView):
    """GET: the environment's readiness reports, newest first. POST: run a new one (201)."""

    permission_classes = [permissions.IsAuthenticated, IsStaff]
    serializer_class = ReadinessReportSerializer

    def get_queryset(self) -> QuerySet[ReadinessReport]:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema, with no request
            return ReadinessReport.objects.none()
        environment = get_object_or_404(Environment, pk=self.kwargs["pk"])
        return ReadinessReport.objects.filter(environment=environment).select_related(
            "environment__customer"
        )

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        environment = get_object_or_404(
            Environment.objects.select_related("customer"), pk=self.kwargs["pk"]
        )
        report = readiness_run(environment=environment, actor=request.user)
        return Response(self.get_serializer(report).data, status=status.HTTP_201_CREATED)

"""The admission.k8s.io/v1 AdmissionReview as pydantic models (only what the webhook reads).

Unknown fields are ignored, so a newer API server's additions do not break parsing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "admission.k8s.io/v1"
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class GroupVersionKind(_Lenient):
    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Lenient):
    group: str = ""
    version: str = ""
    resource: str = ""


class UserInfo(_Lenient):
    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)


class AdmissionRequest(_Lenient):
    uid: str = Field(min_length=1, max_length=256)
    kind: GroupVersionKind = Field(default_factory=GroupVersionKind)
    resource: GroupVersionResource = Field(default_factory=GroupVersionResource)
    subResource: str | None = None
    name: str | None = None
    namespace: str | None = None
    operation: Operation
    userInfo: UserInfo = Field(default_factory=UserInfo)
    # Any JSON value: the reviewer, not the parser, says why a non-object is refused.
    object: Any = None
    oldObject: Any = None
    dryRun: bool | None = None


class AdmissionReview(_Lenient):
    apiVersion: str
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


_REASONS = {403: "Forbidden", 500: "InternalError"}  # metav1.StatusReason


def response(
    uid: str,
    allowed: bool,
    code: int | None = None,
    message: str | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """The AdmissionReview the API server expects back, echoing `uid`."""
    body: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if code is not None:
        status: dict[str, Any] = {"code": code}
        if message:
            status["message"] = message
        if not allowed:
            status["reason"] = _REASONS.get(code, "BadRequest")
        body["status"] = status
    if warnings:
        body["warnings"] = warnings
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": body}

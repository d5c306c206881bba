"""Read spans back from Phoenix and write annotations (scores, labels) onto spans and traces.

A thin layer over ``phoenix.client.Client`` (arize-phoenix-client) that hides its paging and
404s for unknown projects, waits for Phoenix's asynchronous ingestion, and fills the one gap of
the client: reading trace annotations (REST ``GET /v1/projects/{project}/trace_annotations``).

Span dicts are Phoenix's REST shape::

    {"id": "U3Bhbjox", "name": "chat gpt-4o", "span_kind": "LLM",
     "context": {"trace_id": "<32 hex>", "span_id": "<16 hex>"}, "parent_id": "<16 hex>" | None,
     "start_time": "2025-01-01T00:00:00+00:00", "end_time": "...", "status_code": "OK|ERROR|UNSET",
     "status_message": "", "attributes": {"gen_ai.request.model": "gpt-4o", ...}, "events": [...]}

Annotation dicts::

    {"id": "...", "name": "quality", "annotator_kind": "CODE", "span_id": "<16 hex>" (or "trace_id"),
     "result": {"score": 0.8, "label": "good", "explanation": "..."}, "metadata": {...},
     "identifier": "", "source": "API", "created_at": "...", "updated_at": "...", "user_id": None}
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Literal, Mapping, Optional

import httpx
from phoenix.client import Client
from phoenix.client.utils.encode_path_param import encode_path_param

from .server import PhoenixError

AnnotatorKind = Literal["LLM", "CODE", "HUMAN"]
_BATCH = 500  # annotations per write request, ids per read request
PAGE_SIZE = 1000  # Phoenix's maximum page size for span reads


def utc(value: Optional[datetime]) -> Optional[datetime]:
    """``value`` as an aware UTC datetime (a naive one is taken to be UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def project_path(project: str) -> str:
    """``project`` as one URL path segment (percent-encoded), for every ``v1/projects/{project}/...``
    URL. Names that cannot be one segment raise :class:`PhoenixError`: ``/``, ``?`` and ``#``
    (Phoenix decodes the path before routing, so even encoded they would not reach one project;
    arize-phoenix-client refuses them too), and "", "." and ".." (dot segments: an HTTP client
    resolves them to another path)."""
    if not isinstance(project, str) or project in ("", ".", ".."):
        raise PhoenixError(f"{project!r} is not a Phoenix project name")
    try:
        return encode_path_param(project)
    except ValueError:
        raise PhoenixError(f"the Phoenix project name {project!r} cannot be used in a URL: it contains "
                           "'/', '?' or '#'") from None


def project_id(url: str, project: str, timeout: float = 5.0) -> Optional[str]:
    """Phoenix's id of ``project`` (REST ``GET /v1/projects/{name}``), which its UI pages are
    addressed by (``/projects/<id>/spans``); None when Phoenix cannot be reached, has no such
    project, or the name cannot be one URL segment."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/v1/projects/{project_path(project)}", timeout=timeout)
        response.raise_for_status()
        return str(response.json()["data"]["id"])
    except (PhoenixError, httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


class PhoenixStore:
    """Spans and annotations of a Phoenix server at ``base_url`` (e.g. ``http://127.0.0.1:6006``).
    ``headers`` are sent with every request (e.g. ``{"Authorization": "Bearer <key>"}``)."""

    def __init__(self, base_url: str, *, headers: Optional[Mapping[str, str]] = None):
        self.base_url = base_url.rstrip("/")
        self.client = Client(base_url=self.base_url, headers=headers)

    # --- read ------------------------------------------------------------------------------

    def spans(self, project: str, *, start: Optional[datetime] = None, end: Optional[datetime] = None,
              limit: int = 10_000) -> list[dict]:
        """Up to ``limit`` spans of ``project`` (newest first), optionally those starting in
        ``[start, end)`` (use timezone-aware datetimes). A project without spans yet gives []."""
        try:
            return list(self.client.spans.get_spans(project_identifier=project_path(project), start_time=start,
                                                    end_time=end, limit=limit))
        except httpx.HTTPStatusError as err:
            if err.response.status_code == 404:
                return []
            raise PhoenixError(f"reading spans of project {project!r} failed: {_detail(err)}") from None

    def iter_spans(self, project: str, *, start: Optional[datetime] = None, end: Optional[datetime] = None,
                   page_size: int = PAGE_SIZE) -> Iterator[dict]:
        """Every span of ``project`` that started in ``[start, end)``, in start-time order, read one
        page at a time (REST ``GET /v1/projects/{project}/spans?sort=start_time``), so a whole
        project never has to fit in memory. A project without spans gives nothing; other HTTP
        failures raise :class:`PhoenixError`."""
        url = f"v1/projects/{project_path(project)}/spans"
        params: dict[str, Any] = {"limit": page_size, "sort": "start_time", "order": "asc"}
        if start is not None:
            params["start_time"] = utc(start).isoformat()
        if end is not None:
            params["end_time"] = utc(end).isoformat()
        while True:
            try:
                # the client's own httpx.Client: base URL and auth headers already applied
                response = self.client._client.get(url, params=params)
            except httpx.HTTPError as err:
                raise PhoenixError(f"cannot reach Phoenix at {self.base_url}: {err}") from None
            if response.status_code == 404:
                return
            if response.is_error:
                raise PhoenixError(f"reading spans of project {project!r} failed: "
                                   f"HTTP {response.status_code}: {response.text.strip()[:300]}")
            body = response.json()
            yield from body["data"]
            if not body.get("next_cursor"):
                return
            params["cursor"] = body["next_cursor"]

    def wait_for_spans(self, project: str, count: int, timeout: float = 60.0, *,
                       start: Optional[datetime] = None) -> list[dict]:
        """Poll until ``project`` holds at least ``count`` spans (started at or after ``start``)
        and return them all. Phoenix ingests asynchronously, so spans appear a moment after
        export. Raises :class:`PhoenixError` if they do not arrive within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.spans(project, start=start)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise PhoenixError(f"only {len(found)} of {count} spans of project {project!r} arrived "
                                   f"at {self.base_url} within {timeout:.0f} s")
            time.sleep(0.2)

    def traces(self, project: str, *, start: Optional[datetime] = None,
               end: Optional[datetime] = None) -> dict[str, list[dict]]:
        """Spans of ``project`` grouped by trace id, each trace's spans in start-time order."""
        grouped: dict[str, list[dict]] = defaultdict(list)
        for span in sorted(self.spans(project, start=start, end=end), key=lambda s: s["start_time"]):
            grouped[span["context"]["trace_id"]].append(span)
        return dict(grouped)

    def span_annotations(self, project: str, span_ids: Iterable[str]) -> list[dict]:
        """Annotations on the given spans (notes excluded); [] if none or the project is unknown."""
        try:
            return list(self.client.spans.get_span_annotations(project_identifier=project_path(project),
                                                               span_ids=list(span_ids)))
        except httpx.HTTPStatusError as err:
            if err.response.status_code == 404:
                return []
            raise PhoenixError(f"reading span annotations of {project!r} failed: {_detail(err)}") from None

    def trace_annotations(self, project: str, trace_ids: Iterable[str]) -> list[dict]:
        """Annotations on the given traces; [] if none or the project is unknown.
        (arize-phoenix-client has no reader for these, so this calls the REST API.)"""
        url = f"v1/projects/{project_path(project)}/trace_annotations"
        ids = list(dict.fromkeys(trace_ids))
        found: list[dict] = []
        for i in range(0, len(ids), _BATCH):
            params: dict[str, Any] = {"trace_ids": ids[i:i + _BATCH], "limit": 1000}
            while True:
                # the client's own httpx.Client: base URL and auth headers already applied
                response = self.client._client.get(url, params=params)
                if response.status_code == 404:
                    break
                try:
                    response.raise_for_status()
                except httpx.HTTPStatusError as err:
                    raise PhoenixError(f"reading trace annotations of {project!r} failed: {_detail(err)}") from None
                body = response.json()
                found.extend(body["data"])
                if not body.get("next_cursor"):
                    break
                params["cursor"] = body["next_cursor"]
        return found

    # --- write -----------------------------------------------------------------------------

    def annotate_span(self, span_id: str, name: str, *, score: Optional[float] = None, label: Optional[str] = None,
                      explanation: Optional[str] = None, annotator_kind: AnnotatorKind = "CODE",
                      metadata: Optional[dict] = None) -> str:
        """Write (or overwrite: one per name and span) an annotation on a span; at least one of
        score, label, explanation. Returns the annotation's id. The span must already be stored."""
        return self.annotate_spans([{"span_id": span_id, "name": name, "score": score, "label": label,
                                     "explanation": explanation, "annotator_kind": annotator_kind,
                                     "metadata": metadata}])[0]

    def annotate_spans(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Bulk :meth:`annotate_span`. Each row: ``span_id``, ``name`` and any of ``score``,
        ``label``, ``explanation``, ``annotator_kind`` (default "CODE"), ``metadata``,
        ``identifier`` (to keep several annotations of one name on a span). Returns the ids."""
        return self._write("span", rows)

    def annotate_trace(self, trace_id: str, name: str, *, score: Optional[float] = None, label: Optional[str] = None,
                       explanation: Optional[str] = None, annotator_kind: AnnotatorKind = "CODE",
                       metadata: Optional[dict] = None) -> str:
        """Like :meth:`annotate_span`, for a whole trace. Returns the annotation's id."""
        return self._write("trace", [{"trace_id": trace_id, "name": name, "score": score, "label": label,
                                      "explanation": explanation, "annotator_kind": annotator_kind,
                                      "metadata": metadata}])[0]

    def annotate_traces(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Bulk :meth:`annotate_trace`: rows like :meth:`annotate_spans`'s, with ``trace_id``."""
        return self._write("trace", rows)

    def _write(self, kind: Literal["span", "trace"], rows: Iterable[Mapping[str, Any]]) -> list[str]:
        data = [_annotation(kind, row) for row in rows]
        log = self.client.spans.log_span_annotations if kind == "span" else self.client.traces.log_trace_annotations
        ids: list[str] = []
        for i in range(0, len(data), _BATCH):
            batch = data[i:i + _BATCH]
            try:
                inserted = log(**{f"{kind}_annotations": batch}, sync=True)  # sync: errors surface here
            except httpx.HTTPStatusError as err:
                raise PhoenixError(f"writing {kind} annotations failed: {_detail(err)}") from None
            ids.extend(item["id"] for item in inserted)
        return ids


def _annotation(kind: str, row: Mapping[str, Any]) -> dict:
    """A row as Phoenix's ``SpanAnnotationData`` / ``TraceAnnotationData``."""
    key = f"{kind}_id"
    result = {k: row[k] for k in ("score", "label", "explanation") if row.get(k) is not None}
    if not row.get(key) or not row.get("name") or not result:
        raise ValueError(f"an annotation needs {key}, name and at least one of score, label, explanation: {dict(row)}")
    out = {key: row[key], "name": row["name"], "annotator_kind": row.get("annotator_kind") or "CODE", "result": result}
    if row.get("metadata"):
        out["metadata"] = dict(row["metadata"])
    if row.get("identifier"):
        out["identifier"] = row["identifier"]
    return out


def _detail(err: httpx.HTTPStatusError) -> str:
    return f"HTTP {err.response.status_code}: {err.response.text.strip()[:300]}"


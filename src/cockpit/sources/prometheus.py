"""Prometheus queries through prometheus-api-client, with timeouts always set.

The client is synchronous (requests); callers run it in a thread. Its default has no timeout
and retries with backoff, which would hang a check or a pane: both are set explicitly here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from cockpit.conditions import parse_sample_value


class PrometheusError(Exception):
    """Prometheus could not be asked, or answered with an error; the message says which."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


def connect(
    url: str,
    *,
    timeout: float,
    token: str | None = None,
    ca_file: Path | None = None,
    retries: int = 0,
) -> PrometheusConnect:
    session = requests.Session()
    if ca_file is not None:
        session.verify = str(ca_file)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return PrometheusConnect(
        url=url,
        headers=headers,
        session=session,
        timeout=timeout,
        retry=Retry(total=retries, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
    )


def instant_query(client: PrometheusConnect, query: str) -> list[Sample]:
    """Run an instant query; every failure becomes a PrometheusError with a readable reason."""
    try:
        result = client.custom_query(query)
    except PrometheusApiClientException as exc:
        raise PrometheusError(_api_message(str(exc))) from exc
    except requests.exceptions.RetryError as exc:
        raise PrometheusError(f"Prometheus kept failing: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise PrometheusError("Prometheus did not answer in time") from exc
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc).lower():  # urllib3 wraps read timeouts when retries are set
            raise PrometheusError("Prometheus did not answer in time") from exc
        raise PrometheusError(f"cannot reach Prometheus at {client.url}") from exc
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise PrometheusError(f"bad answer from Prometheus: {exc}") from exc
    samples: list[Sample] = []
    if not isinstance(result, list):
        raise PrometheusError(f"unexpected result shape: {type(result).__name__}")
    if len(result) == 2 and not isinstance(result[0], dict):  # scalar: [ts, "value"]
        try:
            return [Sample({}, parse_sample_value(result[1]))]
        except ValueError as exc:
            raise PrometheusError(f"malformed scalar in the answer: {result!r:.200}") from exc
    for entry in result:
        try:
            labels = {str(k): str(v) for k, v in dict(entry.get("metric", {})).items()}
            samples.append(Sample(labels, parse_sample_value(entry["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise PrometheusError(f"malformed sample in the answer: {entry!r:.200}") from exc
    return samples


def _api_message(text: str) -> str:
    # the library puts the raw body in the message; keep it short and readable
    return text if len(text) < 300 else text[:297] + "..."

"""Prometheus metrics of the service, in a registry of each app's own (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds: from a cached small request (a few ms) to a long generation.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "inference_batch_size",
            "Inputs per call of the model (micro-batches of concurrent requests).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_duration = Histogram(
            "inference_batch_duration_seconds",
            "Time of one call of the model.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "inference_queue_depth",
            "Requests waiting for, or in, a batch.",
            registry=self.registry,
        )
        self.model_load_seconds = Gauge(
            "model_load_seconds", "Time taken to load the model.", registry=self.registry
        )
        self.inference_errors = Counter(
            "inference_errors",
            "Calls of the model that failed (each fails the requests in its batch).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""The operators' kit (ops/, docker-compose.monitoring.yml), checked without Docker or Prometheus.

The alert rules and the Grafana dashboard are read as data. Every PromQL expression is
taken apart by a small lexer and each metric it selects must be one the code exports
(the collectors registered in prometheus_client's registry: the gateway's own and
django-prometheus'), with label names the metric has and, where the code fixes them,
label values it can take. The compose override, the Prometheus scrape configuration and
the Grafana provisioning files are checked against each other and against
docker-compose.yml. CI additionally runs ``promtool check rules`` and ``promtool check
config`` and ``promtool test rules`` (ops/prometheus/alerts_test.yml) in .github/workflows/ci.yml.

No test here touches the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = "ops/prometheus/alerts.yml"
ALERTS_TEST = "ops/prometheus/alerts_test.yml"
PROMETHEUS = "ops/prometheus/prometheus.yml"
DASHBOARD = "ops/grafana/dashboards/waha-gateway.json"
DATASOURCES = "ops/grafana/provisioning/datasources/prometheus.yml"
DASHBOARD_PROVIDERS = "ops/grafana/provisioning/dashboards/dashboards.yml"
MONITORING_COMPOSE = "docker-compose.monitoring.yml"
JOB = "waha-gateway"

# Series that Prometheus itself records for each target, with the labels it attaches.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"job", "instance", "service"}  # service: static label in ops/prometheus/prometheus.yml

# The alert topics, each with the alerts that cover it.
REQUIRED_ALERTS = {
    "WAHA unreachable": {"WahaUnreachable"},
    "queue backlog growing": {"MessageQueueBacklogGrowing"},
    "sends failing": {"MessageSendsFailing"},
    "sessions FAILED (no session-status metric: their effects)": {"SendsRefusedSessionNotReady",
                                                                  "QueuedMessagesNotMoving"},
    "webhook signature failures": {"WebhookSignatureFailures"},
    "event deliveries failing": {"EventDeliveriesFailing"},
}

PROMQL_FUNCTIONS_AND_KEYWORDS = {
    # aggregations and binary-operator keywords
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "atan2",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}


# --------------------------------------------------------------------------- helpers
def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _yaml(name: str) -> Any:
    return yaml.safe_load(_read(name))


def _duration_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text)
    assert match, f"not a Prometheus duration: {text!r}"
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match[2]]


@dataclass
class Selector:
    metric: str
    matchers: list[tuple[str, str, str]] = field(default_factory=list)  # (label, op, value)


@dataclass
class Query:
    selectors: list[Selector]
    grouping_labels: set[str]


_TOKEN = re.compile(
    r"""\s+|(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<range>\[[^\]]*\])"""
    r"""|(?P<duration>\d+(?:ms|s|m|h|d|w|y)\b)|(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"""
    r"""|(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}])|(?P<var>\$\w+)""",
)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        assert match, f"cannot read PromQL at {expr[position:position + 30]!r} in {expr!r}"
        position = match.end()
        if match.lastgroup:
            out.append((match.lastgroup, match[match.lastgroup]))
    return out


def parse_promql(expr: str) -> Query:
    """The metric selectors (name and label matchers) and the grouping labels of an expression.

    A lexer, not a parser: enough for the shapes used in ops/ (selectors, functions,
    aggregations with by/without, binary operators with on/ignoring).
    """
    tokens = _tokens(expr)
    selectors: list[Selector] = []
    grouping: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind != "ident":
            assert text != "{", f"a selector without a metric name in {expr!r}"
            i += 1
            continue
        if text in GROUPING and following == "(":
            j = i + 2
            while tokens[j][1] != ")":
                if tokens[j][0] == "ident":
                    grouping.add(tokens[j][1])
                j += 1
            i = j + 1
            continue
        if following == "(" or text in PROMQL_FUNCTIONS_AND_KEYWORDS:
            i += 1
            continue
        selector = Selector(text)
        i += 1
        if i < len(tokens) and tokens[i][1] == "{":
            i += 1
            while tokens[i][1] != "}":
                if tokens[i][1] == ",":
                    i += 1
                    continue
                (_, label), (_, op), (value_kind, value) = tokens[i:i + 3]
                assert value_kind == "string", f"label matcher without a quoted value in {expr!r}"
                selector.matchers.append((label, op, value[1:-1]))
                i += 3
        selectors.append(selector)
    return Query(selectors, grouping)


def exported_series() -> dict[str, set[str]]:
    """Every sample name that /metrics can carry, with its label names."""
    import django_prometheus.db.metrics  # noqa: F401 - registers the database metrics
    from django_prometheus.middleware import Metrics
    from prometheus_client import REGISTRY

    import messaging.metrics  # noqa: F401
    import sessions_waha.waha.metrics  # noqa: F401
    import webhooks.metrics  # noqa: F401
    from core.web.metrics import scrape_time_collectors

    Metrics.get_instance()  # the middleware registers its metrics on first use
    suffixes = {
        "counter": [("_total", ()), ("_created", ())],
        "gauge": [("", ())],
        "histogram": [("_bucket", ("le",)), ("_count", ()), ("_sum", ()), ("_created", ())],
        "summary": [("_count", ()), ("_sum", ()), ("", ("quantile",)), ("_created", ())],
    }
    series: dict[str, set[str]] = {}
    collectors = list(REGISTRY._collector_to_names) + scrape_time_collectors()
    for collector in collectors:
        if hasattr(collector, "_labelnames") and hasattr(collector, "_type"):
            families = [(collector._name, collector._type, collector._labelnames)]
        elif hasattr(collector, "describe"):
            families = [(f.name, f.type, getattr(f, "_labelnames", ())) for f in collector.describe()]
        else:
            continue  # process, platform and GC collectors: not used by ops/
        for name, kind, labels in families:
            for suffix, extra in suffixes.get(kind, [("", ())]):
                series[name + suffix] = set(labels) | set(extra)
    return series


def label_values() -> dict[tuple[str, str], set[str]]:
    """The values the code can give the gateway's labels, where it fixes them."""
    from events.metrics import ATTEMPT_OUTCOMES
    from messaging.models import OPEN_STATUSES, MessageStatus
    from sessions_waha.waha.metrics import OUTCOMES
    from webhooks.metrics import KNOWN_EVENTS
    from webhooks.models import Outcome

    signature_reasons = set(re.findall(r'signature_failed\("(\w+)"\)', _read("webhooks/services/receive.py")))
    assert signature_reasons
    views = set()
    from django.urls import get_resolver

    for urlconf in ("config.urls_tenant", "config.urls_public"):
        views |= {key for key in get_resolver(urlconf).reverse_dict if isinstance(key, str)}
    return {
        ("messages_status_total", "status"): set(MessageStatus.values),
        ("messages_queue_depth", "status"): {str(s) for s in OPEN_STATUSES},
        ("waha_request_duration_seconds_bucket", "outcome"): set(OUTCOMES),
        ("waha_request_duration_seconds_count", "outcome"): set(OUTCOMES),
        ("waha_request_errors_total", "outcome"): set(OUTCOMES) - {"ok"},
        ("webhook_events_total", "event"): set(KNOWN_EVENTS) | {"other"},
        # On arrival: accepted, duplicate, ignored; when applied: the stored outcomes.
        ("webhook_events_total", "outcome"): (set(Outcome.values) - {"pending"}) | {"accepted", "duplicate"},
        ("webhook_signature_failures_total", "reason"): signature_reasons,
        ("event_delivery_attempts_total", "outcome"): set(ATTEMPT_OUTCOMES),
        ("django_http_requests_total_by_view_transport_method", "view"): views,
        ("django_http_responses_total_by_status_view_method", "view"): views,
        ("django_http_requests_latency_seconds_by_view_method_bucket", "view"): views,
        ("up", "job"): {JOB},
    }


def _literal_alternatives(op: str, value: str) -> set[str] | None:
    """The values a matcher names, or None when it is a real pattern or a dashboard variable."""
    if "$" in value:
        return None
    if op in ("=", "!="):
        return {value}
    if re.fullmatch(r"[\w\-]+(\|[\w\-]+)*", value):  # a plain alternation: a|b|c
        return set(value.split("|"))
    return None


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in _yaml(ALERTS)["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(_read(DASHBOARD))


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[str]:
    exprs = [t["expr"] for panel in dashboard_panels() for t in panel.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            inner = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            assert inner, f"unexpected variable query {query!r}"
            exprs.append(f"count by ({inner[2]}) ({inner[1]})")
    return exprs


def alert_test_series() -> list[str]:
    return [series["series"] for test in _yaml(ALERTS_TEST)["tests"] for series in test["input_series"]]


def all_exprs() -> list[tuple[str, str]]:
    return [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()] + [
        (f"dashboard #{n}", e) for n, e in enumerate(dashboard_exprs())] + [
        (f"alert test series #{n}", s) for n, s in enumerate(alert_test_series())]


# --------------------------------------------------------------------------- PromQL against the code
def test_the_lexer_reads_selectors_and_grouping() -> None:
    query = parse_promql('sum by (tenant) (rate(a_total{x="1", y=~"b|c"}[5m])) / on (tenant) max(b offset 15m) > 0.5')
    assert [(s.metric, s.matchers) for s in query.selectors] == [
        ("a_total", [("x", "=", "1"), ("y", "=~", "b|c")]), ("b", [])]
    assert query.grouping_labels == {"tenant"}


def test_the_exported_series_are_known() -> None:
    series = exported_series()
    assert series["messages_queue_depth"] == {"tenant", "status"}
    assert series["waha_request_duration_seconds_bucket"] == {"operation", "outcome", "le"}
    assert series["django_http_requests_total_by_view_transport_method_total"] == {"view", "transport", "method"}


@pytest.mark.parametrize(("where", "expr"), all_exprs())
def test_queries_use_only_exported_metrics_labels_and_values(where: str, expr: str) -> None:
    series = exported_series()
    values = label_values()
    query = parse_promql(expr)
    assert query.selectors, f"{where}: no metric in {expr!r}"
    labels_in_query: set[str] = set(TARGET_LABELS)
    for selector in query.selectors:
        if selector.metric in PROMETHEUS_SERIES:
            known = set(TARGET_LABELS)
        else:
            assert selector.metric in series, f"{where}: {selector.metric} is not exported by the code"
            known = series[selector.metric] | TARGET_LABELS
        labels_in_query |= known
        for label, op, value in selector.matchers:
            assert label in known, f"{where}: {selector.metric} has no label {label!r} (it has {sorted(known)})"
            allowed = values.get((selector.metric, label))
            named = _literal_alternatives(op, value)
            if allowed is not None and named is not None:
                assert named <= allowed, f"{where}: {selector.metric}{{{label}}} never takes {sorted(named - allowed)}"
    unknown = query.grouping_labels - labels_in_query
    assert not unknown, f"{where}: groups by {sorted(unknown)}, which none of its metrics has"


def test_database_gauges_are_never_summed_across_web_containers() -> None:
    """Each web container reports the same database-read value: sum would count it once per container."""
    for where, expr in all_exprs():
        for gauge in ("messages_queue_depth", "webhook_events_pending"):
            assert not re.search(rf"sum(\s+by\s*\([^)]*\))?\s*\(\s*{gauge}", expr), f"{where}: sum of {gauge}"


# --------------------------------------------------------------------------- alert rules
def test_alert_rules_are_complete() -> None:
    data = _yaml(ALERTS)
    assert set(data) == {"groups"}
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "alert names must be unique"
    for group in data["groups"]:
        assert group["name"] and group["rules"]
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), name
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, name
        assert _duration_seconds(rule["for"]) >= 300, f"{name}: a for-duration of at least 5m avoids flapping"
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"].strip() and len(rule["annotations"]["description"]) > 80, name
        for value in rule["annotations"].values():
            # Go templates: balanced braces, only the variables Prometheus provides.
            assert value.count("{{") == value.count("}}"), name
            for variable in re.findall(r"\$(\w+)", value):
                assert variable in {"labels", "value", "externalLabels"}, f"{name}: ${variable}"
            for label in re.findall(r"\$labels\.(\w+)", value):
                assert re.search(rf"by \([^)]*\b{label}\b|{label}=", rule["expr"]) or label == "instance", (
                    f"{name}: the annotation uses $labels.{label}, which the expression does not keep")
    for topic, alerts in REQUIRED_ALERTS.items():
        assert alerts <= set(names), f"no alert for {topic}: {sorted(alerts - set(names))}"


def test_every_alert_has_a_promtool_unit_test() -> None:
    tests = _yaml(ALERTS_TEST)
    assert tests["rule_files"] == [Path(ALERTS).name]
    tested = {match for test in tests["tests"] for check in test.get("promql_expr_test", [])
              for match in re.findall(r'ALERTS\{alertname="(\w+)"', check["expr"])}
    untested = {rule["alert"] for rule in alert_rules()} - tested
    assert not untested, f"add a case to {ALERTS_TEST} for {sorted(untested)}"


def test_alerts_watch_the_scrape_job_of_the_config() -> None:
    jobs = {job["job_name"] for job in _yaml(PROMETHEUS)["scrape_configs"]}
    for where, expr in all_exprs():
        for selector in parse_promql(expr).selectors:
            for label, _, value in selector.matchers:
                if label == "job":
                    assert value in jobs, f"{where}: job {value!r} is not scraped"


# --------------------------------------------------------------------------- Prometheus configuration
def test_prometheus_scrapes_web_with_the_metrics_token() -> None:
    config = _yaml(PROMETHEUS)
    assert _duration_seconds(config["global"]["scrape_timeout"]) <= _duration_seconds(
        config["global"]["scrape_interval"])
    for rule_file in config["rule_files"]:
        assert (ROOT / "ops/prometheus" / rule_file).is_file(), rule_file
    (job,) = config["scrape_configs"]
    assert job["job_name"] == JOB
    assert job["metrics_path"] == "/metrics"
    from django.urls import reverse

    assert reverse("metrics", urlconf="config.urls_public") == job["metrics_path"]
    assert job["authorization"]["type"] == "Bearer"
    # The token comes from a file that compose writes (never from the repository).
    token_file = job["authorization"]["credentials_file"]
    assert not (ROOT / "ops/prometheus" / token_file).exists()
    monitoring = _yaml(MONITORING_COMPOSE)
    targets = {c["target"] for c in monitoring["services"]["prometheus"]["configs"]}
    assert f"/etc/prometheus/{token_file}" in targets
    assert monitoring["configs"]["metrics-token"]["content"].strip() == "${METRICS_TOKEN:-}"
    # web:8000 is the web service of docker-compose.yml and the port gunicorn listens on; worker:9100 is the
    # worker's own metrics port (WORKER_METRICS_PORT), reached inside the compose network only.
    base = _yaml("docker-compose.yml")
    targets = {}
    for static in job["static_configs"]:
        assert set(static.get("labels", {})) <= TARGET_LABELS
        for target in static["targets"]:
            targets[target] = static["labels"]["service"]
    assert targets == {"web:8000": "web", "worker:9100": "worker", "events-worker:9100": "events-worker"}
    assert any(str(p).endswith(":8000") for p in base["services"]["web"]["ports"])
    for name in ("worker", "events-worker"):
        worker = base["services"][name]
        assert worker["environment"]["WORKER_METRICS_PORT"] == "9100" and "ports" not in worker


# --------------------------------------------------------------------------- Grafana
def test_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    data = dashboard()
    assert data["uid"] == "waha-gateway" and data["title"]
    assert "id" not in data or data["id"] is None, "a provisioned dashboard carries no database id"
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    (provisioned,) = _yaml(DATASOURCES)["datasources"]
    assert variables["datasource"]["current"]["value"] == provisioned["uid"]
    for panel in dashboard_panels():
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel.get("targets"):
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    # No two panels overlap.
    cells: set[tuple[int, int]] = set()
    for panel in dashboard_panels():
        g = panel["gridPos"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_dashboard_shows_every_gateway_metric_and_the_request_metrics() -> None:
    used = {s.metric for expr in dashboard_exprs() for s in parse_promql(expr).selectors}
    wanted = {
        "django_http_requests_total_by_view_transport_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_responses_total_by_status_view_method_total",
        "messages_status_total", "messages_queue_depth", "message_send_retries_total",
        "message_enqueue_failures_total", "waha_request_duration_seconds_bucket",
        "waha_request_duration_seconds_count", "waha_request_errors_total", "webhook_events_total",
        "webhook_events_pending", "webhook_signature_failures_total", "webhook_apply_enqueue_failures_total",
        "webhook_media_enqueue_failures_total",
    }
    # django-prometheus exports counters as <name>_total; the queries must use the exported name.
    series = exported_series()
    wanted = {name if name in series else name + "_total" for name in wanted}
    assert not wanted - used, f"the dashboard does not show {sorted(wanted - used)}"


def test_grafana_provisioning_points_at_the_compose_services() -> None:
    (source,) = _yaml(DATASOURCES)["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    monitoring = _yaml(MONITORING_COMPOSE)
    assert any(str(p).endswith(":9090") for p in monitoring["services"]["prometheus"]["ports"])
    assert source["jsonData"]["timeInterval"] == _yaml(PROMETHEUS)["global"]["scrape_interval"]
    (provider,) = _yaml(DASHBOARD_PROVIDERS)["providers"]
    mounts = dict(_bind_mounts(monitoring["services"]["grafana"]))
    assert mounts[provider["options"]["path"]] == "./ops/grafana/dashboards"
    assert (ROOT / "ops/grafana/dashboards" / Path(DASHBOARD).name).is_file()
    home = monitoring["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{Path(DASHBOARD).name}"
    assert mounts["/etc/grafana/provisioning/datasources"] == "./" + str(Path(DATASOURCES).parent)
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./" + str(Path(DASHBOARD_PROVIDERS).parent)


# --------------------------------------------------------------------------- compose override
def _bind_mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(container path, host path) of the service's bind mounts."""
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            yield target, source


def test_monitoring_override_adds_prometheus_and_grafana_only() -> None:
    monitoring = _yaml(MONITORING_COMPOSE)
    base = _yaml("docker-compose.yml")
    assert set(monitoring) <= {"services", "volumes", "configs"}
    assert set(monitoring["services"]) == {"prometheus", "grafana"}
    assert not set(monitoring["services"]) & set(base["services"]), "the override must not change app services"
    assert not set(monitoring["volumes"]) & set(base.get("volumes", {}))
    for name, service in monitoring["services"].items():
        _, _, tag = service["image"].partition(":")
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin the image to a version, not {tag!r}"
        for port in service["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name}: publish {port} on 127.0.0.1 only"
        assert service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"], name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        for _, source in _bind_mounts(service):
            assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            assert source.startswith("./ops/"), f"{name}: {source}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in monitoring["volumes"], f"{name}: volume {source} is not declared"
        for config in service.get("configs", []):
            assert config["source"] in monitoring["configs"], name


def test_prometheus_loads_the_rules_and_the_config_it_is_given() -> None:
    service = _yaml(MONITORING_COMPOSE)["services"]["prometheus"]
    mounts = dict(_bind_mounts(service))
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in service["command"])
    config_path = flags["config.file"]
    assert mounts[config_path] == "./" + PROMETHEUS
    for rule_file in _yaml(PROMETHEUS)["rule_files"]:
        assert mounts[str(Path(config_path).parent / rule_file)] == "./" + ALERTS
    assert any(v.split(":")[1] == flags["storage.tsdb.path"] for v in service["volumes"])


def test_grafana_admin_password_comes_from_the_environment() -> None:
    env = _yaml(MONITORING_COMPOSE)["services"]["grafana"]["environment"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"


# --------------------------------------------------------------------------- docs
def test_deployment_guide_documents_monitoring() -> None:
    docs = _read("docs/DEPLOYMENT_GUIDE.md")
    assert "docker-compose.monitoring.yml" in docs
    assert "## Monitoring" in docs
    section = docs.split("## Monitoring", 1)[1].split("\n## ", 1)[0]
    for rule in alert_rules():
        assert f"`{rule['alert']}`" in section, f"the Monitoring section does not explain {rule['alert']}"
    variables = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", _read(MONITORING_COMPOSE)))
    missing = sorted(v for v in variables if f"`{v}`" not in docs)
    assert not missing, f"docs/DEPLOYMENT_GUIDE.md does not mention {missing}"


def test_ci_checks_the_rules_with_promtool() -> None:
    workflow = _read(".github/workflows/ci.yml")
    assert f"promtool check rules {ALERTS}" in workflow
    assert f"promtool test rules {ALERTS_TEST}" in workflow
    assert "promtool check config" in workflow

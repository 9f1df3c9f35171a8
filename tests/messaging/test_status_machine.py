"""The message status machine: the table, every writer walked over every status, and no writer elsewhere.

``EXPECTED`` is written out here on purpose, not read from the module: a change to the machine has to
change this test (and docs/architecture.md, checked below) as well.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from core.transitions import InvalidTransition
from messaging.models import Conversation, Direction, Message, MessageStatus
from messaging.services import status
from sessions_waha.models import Session
from tenants import waha_pool

ROOT = Path(__file__).resolve().parents[2]
ALL = list(MessageStatus.values)
LADDER = ["queued", "sending", "sent", "delivered", "read"]  # the order acks and send results move along

EXPECTED: dict[str | None, set[str]] = {
    None: {"scheduled", "queued", "received"},
    "scheduled": {"queued", "canceled"},
    "queued": {"sending", "sent", "delivered", "read", "failed", "canceled"},
    "sending": {"queued", "sent", "delivered", "read", "failed"},
    "sent": {"delivered", "read", "failed"},
    "delivered": {"read"},
    "read": set(),
    "failed": {"queued"},
    "canceled": set(),
    "received": set(),
}
EXPECTED_EDGES = {(source, target) for source, targets in EXPECTED.items() if source for target in targets}


# ------------------------------------------------------------------ the table


def test_the_table_is_the_expected_one_and_names_every_status():
    assert {source: set(targets) for source, targets in status.TRANSITIONS.items()} == EXPECTED
    assert set(status.TRANSITIONS) - {None} == set(MessageStatus.values)
    assert {"scheduled", "canceled"} <= set(MessageStatus.values)  # the API contract names both


@pytest.mark.parametrize(("source", "target"), list(itertools.product([None, *ALL], ALL)))
def test_the_python_guard_allows_exactly_the_tables_pairs(source, target):
    assert status.allowed(source, target) is (target in EXPECTED[source])
    if target in EXPECTED[source]:
        status.check(source, target)
    else:
        with pytest.raises(InvalidTransition):
            status.check(source, target)


def test_every_edge_has_a_named_move_and_every_move_is_an_edge():
    edges = {(source, move.target) for move in status.MOVES for source in move.sources}
    assert edges == EXPECTED_EDGES
    assert len({move.name for move in status.MOVES}) == len(status.MOVES)


def test_new_messages_start_where_the_table_says():
    assert status.initial_status(Direction.OUTBOUND) == "queued"
    assert status.initial_status(Direction.OUTBOUND, scheduled=True) == "scheduled"
    assert status.initial_status(Direction.INBOUND) == "received"
    assert {
        status.initial_status(Direction.OUTBOUND),
        status.initial_status(Direction.OUTBOUND, scheduled=True),
        status.initial_status(Direction.INBOUND),
    } == EXPECTED[None]


def test_acks_and_send_results_only_move_forward():
    forward = [status.SEND_ACCEPTED, status.ACK_SENT, status.ACK_DELIVERED, status.ACK_READ]
    for move in forward:
        assert all(LADDER.index(source) < LADDER.index(move.target) for source in move.sources), move.name
    # ERROR fails a message only while it is not yet delivered.
    assert status.ACK_ERROR.sources == {"queued", "sending", "sent"}
    assert 0 not in status.ACK_MOVES  # PENDING moves nothing


def test_the_documented_table_is_the_table():
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("### The message status machine", 1)[1].split("\n#", 1)[0]
    documented: dict[str | None, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and (cells[0].startswith("`") or cells[0] == "(new)"):
            source = None if cells[0] == "(new)" else cells[0].strip("`")
            documented[source] = set(re.findall(r"`(\w+)`", cells[1]))
    assert documented == EXPECTED


# ------------------------------------------------------------------ every writer over every status


@pytest.fixture
def session(acme):
    server = waha_pool.waha_server_default()
    with tenant_context(acme):
        return Session.objects.create(
            name="machine", waha_name=f"acme_machine_{secrets.token_hex(4)}", waha_server=server
        )


def _one_per_status(session, *, direction: str = Direction.OUTBOUND) -> dict[str, Message]:
    """A message in each status (a past ``next_attempt_at``: due), with its own WhatsApp id."""
    conversation = Conversation.objects.create(session=session, chat_id=f"49151{secrets.randbelow(10**7):07d}@c.us")
    due = timezone.now() - dt.timedelta(seconds=1)
    return {
        value: Message.objects.create(
            session=session,
            conversation=conversation,
            direction=direction,
            chat_id=conversation.chat_id,
            text=value,
            status=value,
            next_attempt_at=due,
            wa_id=f"3EB0{secrets.token_hex(8).upper()}",
        )
        for value in ALL
    }


def _statuses(messages: dict[str, Message]) -> dict[str, str]:
    return {before: Message.objects.get(pk=message.pk).status for before, message in messages.items()}


def _expected_after(move: status.Move) -> dict[str, str]:
    return {value: move.target if value in move.sources else value for value in ALL}


def _each(write: Callable[[Message], object]) -> Callable[[dict[str, Message], Session], None]:
    def run(messages: dict[str, Message], session: Session) -> None:
        for message in messages.values():
            write(message)

    return run


_NO_ATTEMPT = {"attempt": 1, "outcome": "test"}
WRITERS: dict[str, tuple[status.Move, Callable[[dict[str, Message], Session], object]]] = {
    "messages_claim": (
        status.CLAIM,
        lambda messages, session: status.messages_claim(session_id=session.pk, limit=len(ALL)),
    ),
    "message_sent": (
        status.SEND_ACCEPTED,
        _each(lambda m: status.message_sent(message=m, waha_message_id="", wa_id="", attempt=_NO_ATTEMPT)),
    ),
    "messages_sent": (
        status.SEND_ACCEPTED,
        lambda messages, session: status.messages_sent(
            [(m.pk, "", "", _NO_ATTEMPT) for m in messages.values()], now=timezone.now()
        ),
    ),
    "message_retry_later": (
        status.RETRY_LATER,
        _each(lambda m: status.message_retry_later(message=m, delay_seconds=1, attempt=_NO_ATTEMPT, reason="timeout")),
    ),
    "message_requeue_stuck": (status.REQUEUE_STUCK, _each(lambda m: status.message_requeue_stuck(message=m))),
    "message_failed": (
        status.SEND_FAILED,
        _each(lambda m: status.message_failed(message=m, code="send_failed", detail="test", attempt=_NO_ATTEMPT)),
    ),
    "messages_fail_open": (
        status.SESSION_GONE,
        lambda messages, session: status.messages_fail_open(
            session_id=session.pk, code="session_deleted", detail="test"
        ),
    ),
    "message_requeue_failed": (status.RETRY, _each(lambda m: status.message_requeue_failed(message=m))),
    **{
        f"message_ack_apply({ack})": (
            move,
            _each(lambda m, ack=ack: status.message_ack_apply(session_id=m.session_id, wa_id=m.wa_id, ack=ack)),
        )
        for ack, move in status.ACK_MOVES.items()
    },
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_each_writer_moves_exactly_its_moves_sources(acme, session, writer):
    move, write = WRITERS[writer]
    with tenant_context(acme):
        messages = _one_per_status(session)
        write(messages, session)
        assert _statuses(messages) == _expected_after(move)


def test_writers_cover_every_move_the_pipeline_makes_today():
    used = {move for move, _ in WRITERS.values()}
    assert set(status.MOVES) - used == {status.DUE, status.CANCEL}  # scheduled sends and cancel: not built yet


def test_an_ack_pending_level_moves_nothing(acme, session):
    with tenant_context(acme):
        messages = _one_per_status(session)
        for message in messages.values():
            status.message_ack_apply(session_id=session.pk, wa_id=message.wa_id, ack=0)
        assert _statuses(messages) == {value: value for value in ALL}


def test_inbound_messages_stay_received_whatever_the_acks(acme, session):
    with tenant_context(acme):
        message = _one_per_status(session, direction=Direction.INBOUND)["received"]
        for ack in (1, 2, 3, -1):
            status.message_ack_apply(session_id=session.pk, wa_id=message.wa_id, ack=ack, keep_if_missing=False)
        assert Message.objects.get(pk=message.pk).status == "received"


# ------------------------------------------------------------------ every move, in the ORM and in SQL


def _orm(move: status.Move, ids: list[object]) -> None:
    status.messages_move(Message.objects.filter(pk__in=ids), move)


def _sql_where(move: status.Move, ids: list[object]) -> None:
    """The form of a statement that moves only rows in a source (the claim)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET status = %s WHERE id = ANY(%s) AND {status.sources_sql(move)}",
            [move.target, ids],
        )


def _sql_case(move: status.Move, ids: list[object]) -> None:
    """The form of a statement that updates every row and moves the status only where the move applies."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} AS m SET updated_at = now(), "
            f"status = {status.status_sql(move, 'm.status')} WHERE m.id = ANY(%s)",
            [ids],
        )


@pytest.mark.parametrize("engine", [_orm, _sql_where, _sql_case], ids=["orm", "sql_where", "sql_case"])
def test_every_pair_of_statuses_moves_only_along_the_table(acme, session, engine):
    """Walk the whole table: each move from each status; the pairs that moved are exactly the table's edges."""
    moved: set[tuple[str, str]] = set()
    with tenant_context(acme):
        for move in status.MOVES:
            messages = _one_per_status(session)
            engine(move, [m.pk for m in messages.values()])
            after = _statuses(messages)
            assert after == _expected_after(move), move.name
            moved |= {(before, now) for before, now in after.items() if before != now}
    assert moved == EXPECTED_EDGES


def test_out_of_order_acks_never_move_a_message_back(acme, session):
    """Every order of SERVER, DEVICE, READ and ERROR acks on a message being sent ends where the table says."""
    with tenant_context(acme):
        for order in itertools.permutations([1, 2, 3, -1]):
            message = _one_per_status(session)["sending"]
            expected, seen = "sending", []
            for ack in order:
                status.message_ack_apply(session_id=session.pk, wa_id=message.wa_id, ack=ack)
                move = status.ACK_MOVES[ack]
                expected = move.target if expected in move.sources else expected
                seen.append(Message.objects.get(pk=message.pk).status)
                assert seen[-1] == expected, order
            ladder = [LADDER.index(value) for value in seen if value in LADDER]
            assert ladder == sorted(ladder), order
            stored = Message.objects.get(pk=message.pk)
            assert stored.ack_level == 3
            if stored.status == "read":
                assert stored.sent_at and stored.delivered_at and stored.read_at


# ------------------------------------------------------------------ nobody else writes Message.status

WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}
# ``SET ... status =`` (unqualified: the column being assigned), before the statement's WHERE/FROM/RETURNING.
SQL_STATUS_ASSIGNMENT = re.compile(
    r"\bSET\b(?:(?!\bWHERE\b|\bFROM\b|\bRETURNING\b).)*?(?<![\w.])status\s*=(?!=)", re.IGNORECASE | re.DOTALL
)
SQL_WRITE = re.compile(r"\b(INSERT|SET)\b", re.IGNORECASE)


def _other_models_with_status() -> set[str]:
    """Models whose own ``status`` the rule is not about (a session's status, daily counts by status...)."""
    return {
        model.__name__
        for model in apps.get_models()
        if model is not Message and any(field.name == "status" for field in model._meta.fields)
    }


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_message_status(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and _root(node) == "MessageStatus"


def _machine_names(tree: ast.AST) -> set[str]:
    """The names a file binds to messaging.services.status (``from messaging.services import status``,
    ``from messaging.services.status import x``): a status written from one of them comes from the machine."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "messaging":
            names |= {alias.asname or alias.name for alias in node.names if alias.name == "status"}
        elif isinstance(node, ast.ImportFrom) and node.module == "messaging.services.status":
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def status_writes(source: str, other_models: set[str]) -> list[str]:
    """Where ``source`` writes a message's status other than through messaging.services.status (line: code)."""
    tree = ast.parse(source)
    machine = _machine_names(tree)
    found: list[tuple[int, str]] = []

    def flag(node: ast.AST) -> None:
        found.append((node.lineno, ast.unparse(node)[:120]))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if (name in WRITE_METHODS or name == "Message") and _root(node.func) not in other_models:
                for keyword in node.keywords:
                    values = [keyword.value] if keyword.arg == "status" else []
                    if keyword.arg == "defaults" and isinstance(keyword.value, ast.Dict):
                        values = [
                            v
                            for k, v in zip(keyword.value.keys, keyword.value.values, strict=True)
                            if isinstance(k, ast.Constant) and k.value == "status"
                        ]
                    if any(_root(value) not in machine for value in values):
                        flag(node)
            if name == "format" and any(_is_message_status(keyword.value) for keyword in node.keywords):
                flag(node)  # a status constant formatted into a statement
        elif isinstance(node, ast.Dict):
            if any(
                isinstance(k, ast.Constant) and k.value == "status" and _is_message_status(v)
                for k, v in zip(node.keys, node.values, strict=True)
            ):
                flag(node)  # the columns of an insert (COPY, from_db)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(
                isinstance(t, ast.Attribute)
                and t.attr == "status"
                and ("message" in ast.unparse(t.value).lower() or _is_message_status(node.value))
                for t in targets
            ):
                flag(node)
        elif isinstance(node, ast.JoinedStr):
            literal = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if SQL_WRITE.search(literal) and any(
                isinstance(part, ast.FormattedValue) and _is_message_status(part.value) for part in node.values
            ):
                flag(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATUS_ASSIGNMENT.search(node.value):
            flag(node)
    return [f"{line}: {code}" for line, code in sorted(set(found))]


def _gateway_sources() -> list[Path]:
    """The code that runs in production: every local app and config, without migrations."""
    packages = {config.name.split(".")[0] for config in apps.get_app_configs()} | {"config"}
    files = [
        path
        for package in sorted(packages)
        if (ROOT / package / "__init__.py").exists()
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]
    return [path for path in files if path != ROOT / "messaging" / "services" / "status.py"]


def test_no_module_but_messaging_status_writes_a_message_status():
    sources = _gateway_sources()
    assert ROOT / "messaging" / "services" / "dispatch.py" in sources
    assert ROOT / "webhooks" / "services" / "applier.py" in sources
    other_models = _other_models_with_status()
    writes = {
        str(path.relative_to(ROOT)): found
        for path in sources
        if (found := status_writes(path.read_text(), other_models))
    }
    assert writes == {}


BAD = {
    "the old claim": '''cursor.execute(f"""UPDATE {table} SET status = 'sending', attempts = attempts + 1
                         WHERE id IN (SELECT id FROM {table} WHERE status = 'queued')""")''',
    "an UPDATE setting it among others": """execute("UPDATE t SET error_code = '', status = 'sent' WHERE id = %s")""",
    "a CASE that moves it": '''sql = "UPDATE t AS m SET status = CASE WHEN m.status = 'queued' THEN 'sent' END"''',
    "an ORM update": "Message.objects.filter(pk=1, status=MessageStatus.SENDING).update(status=MessageStatus.QUEUED)",
    "an update of any queryset": 'queryset.update(status="failed", failed_at=now)',
    "a create": "Message.objects.create(direction='inbound', status=MessageStatus.RECEIVED)",
    "get_or_create defaults": "Message.objects.get_or_create(wa_id=x, defaults={'status': 'received'})",
    "an instance": 'Message(chat_id=chat, status="queued")',
    "an attribute": "message.status = MessageStatus.FAILED",
    "insert columns": 'common = {"session_id": session.pk, "status": MessageStatus.QUEUED}',
    "a formatted statement": "sql = _SQL.format(messages=table, queued=MessageStatus.QUEUED)",
    "an f-string insert": '''sql = f"INSERT INTO t (id, status) VALUES (%s, '{MessageStatus.QUEUED}')"''',
}
GOOD = {
    "a read": "Message.objects.filter(status=MessageStatus.QUEUED).count()",
    "a read in SQL": '''sql = "SELECT id FROM t WHERE status = 'queued' AND session_id = %s"''',
    "a qualified read inside an UPDATE": '''sql = "UPDATE t AS m SET sent_at = now() WHERE m.status IN ('sent')"''',
    "another model's status": "Session.objects.filter(pk=1).update(status=SessionStatus.WORKING)",
    "a value from the machine": (
        "from messaging import status\nMessage.objects.create(status=status.initial_status('inbound'))"
    ),
    "a name imported from the machine": (
        "from messaging.services.status import initial_status\nMessage(status=initial_status('outbound'))"
    ),
    "a metric label": "metrics.status_changed(MessageStatus.QUEUED, count=3)",
}


@pytest.mark.parametrize("name", list(BAD))
def test_the_source_check_finds_each_kind_of_status_write(name):
    assert status_writes(BAD[name], {"Session"}), name


@pytest.mark.parametrize("name", list(GOOD))
def test_the_source_check_leaves_reads_and_the_machines_values_alone(name):
    assert status_writes(GOOD[name], {"Session"}) == [], name

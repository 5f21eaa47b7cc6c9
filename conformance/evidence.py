"""What a check ran or read on the target and what it saw, redacted, for the reports."""
from __future__ import annotations

import json
from typing import Any

from conformance.masking import redact
from conformance.outcomes import TargetError

__all__ = ["Evidence", "redact", "render", "trim"]

TRIM = 4000  # characters kept of each stdout/stderr (head and tail)
KILL_AFTER = 5  # seconds `timeout` waits after TERM before KILL


def trim(text: str, limit: int = TRIM) -> str:
    """Head and tail of the redacted text (masked before it is cut, so no secret is cut in half and shown)."""
    text = redact(text)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - limit} characters cut …]\n{text[-half:]}"


class Evidence:
    """The evidence of one check: commands, API calls, HTTP answers and notes, in order."""

    def __init__(self, target_id: str, default_timeout: float):
        self.target_id = target_id
        self.default_timeout = default_timeout
        self.items: list[dict[str, Any]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def cmd(self, host, command: str, *args: str, timeout: float | None = None, shown=None):
        """Run a command on the target under coreutils `timeout` and record command, rc and output (stdout as
        shown(stdout) returns it, e.g. decoded, so that redaction sees the text)."""
        seconds = max(1, int(round(timeout or self.default_timeout)))
        rendered = host.backend.quote(command, *args)
        result = host.run("timeout -k %s %s sh -c %s", str(KILL_AFTER), str(seconds), rendered)
        stdout = shown(result.stdout) if shown else result.stdout
        self.items.append({"kind": "cmd", "command": redact(rendered), "rc": result.rc,
                           "stdout": trim(stdout), "stderr": trim(result.stderr)})
        if result.rc in (124, 137):
            raise TargetError(f"{self.target_id}: command timed out after {seconds} s: {rendered}")
        return result

    def api(self, call: str, **fields: Any) -> None:
        """Record a Docker API call (e.g. 'GET /info') and the fields the check used."""
        self.items.append(redact({"kind": "api", "call": call, "fields": _plain(fields)}))

    def http(self, url: str, status: int | None, title: str | None = None) -> None:
        """Record an HTTP answer: URL, status and page title."""
        self.items.append(redact({"kind": "http", "url": url, "status": status, "title": title}))

    def note(self, text: str) -> None:
        """Record a free-text observation."""
        self.items.append(redact({"kind": "note", "text": str(text)}))

    def text(self) -> str:
        return render(self.items)


def _plain(value: Any) -> Any:
    """Make fields JSON-safe so they survive xdist and results.json."""
    return json.loads(json.dumps(value, default=str))


def render(items: list[dict[str, Any]]) -> str:
    """Evidence as the plain text shown in the HTML report and JUnit."""
    blocks = []
    for item in items:
        kind = item["kind"]
        if kind == "cmd":
            lines = [f"$ {item['command']}", f"rc={item['rc']}"]
            lines += [f"stdout:\n{item['stdout'].rstrip()}"] if item["stdout"].strip() else []
            lines += [f"stderr:\n{item['stderr'].rstrip()}"] if item["stderr"].strip() else []
        elif kind == "api":
            lines = [f"API {item['call']}", json.dumps(item["fields"], indent=2, sort_keys=True)]
        elif kind == "http":
            lines = [f"HTTP {item['url']} -> {item['status']} {item.get('title') or ''}".rstrip()]
        else:
            lines = [f"note: {item['text']}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)

"""`clipguard server` end to end: the real server in a subprocess, spoken to in the Language
Server Protocol (JSON-RPC with Content-Length framing) over its stdin and stdout."""

import json
import queue
import subprocess
import threading

import pytest
from conftest import BUGGY, CLEAN, clipguard_command
from test_import_cost import HEAVY, _imported_modules

pytest.importorskip("pygls")


class Client:
    """A minimal LSP client: requests, notifications, and the messages the server sends."""

    def __init__(self, cwd):
        command = clipguard_command()
        self.process = subprocess.Popen(
            [command[0], "-X", "importtime", *command[1:], "server"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        stream = self.process.stdout
        while True:
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            if not headers:
                return
            self.messages.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message):
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method, params):
        self.send({"method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)

    def wait(self, wanted, timeout=60):
        while True:
            message = self.messages.get(timeout=timeout)
            if wanted(message):
                return message

    def diagnostics(self, uri):
        message = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )
        return message["params"]["diagnostics"]


@pytest.fixture
def client(tmp_path):
    client = Client(tmp_path)
    result = client.request(
        "initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
    )
    assert result["result"]["serverInfo"]["name"] == "clipguard"
    client.notify("initialized", {})
    yield client
    if client.process.poll() is None:
        client.process.kill()
        client.process.wait()


def _open(client, path, text, version=1):
    client.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": path.as_uri(),
                "languageId": "python",
                "version": version,
                "text": text,
            }
        },
    )
    return client.diagnostics(path.as_uri())


def test_diagnostics_on_open_and_change_and_fixes_as_code_actions(client, tmp_path):
    path = tmp_path / "app.py"
    path.write_text(BUGGY)
    uri = path.as_uri()
    diagnostics = _open(client, path, BUGGY)
    assert [d["code"] for d in diagnostics] == ["CG101"]
    (cg101,) = diagnostics
    assert cg101["source"] == "clipguard" and cg101["range"]["start"] == {
        "line": 8,
        "character": 16,
    }
    assert "ImageNet" in cg101["message"]

    actions = client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": cg101["range"],
            "context": {"diagnostics": [cg101]},
        },
    )["result"]
    titles = [a["title"] for a in actions]
    assert titles == [
        "clipguard (CG101): Use CLIP's mean and std (unsafe fix)",
        "clipguard (CG101): Disable for this line",
    ]
    edits = actions[0]["edit"]["changes"][uri]
    assert {e["newText"] for e in edits} == {
        "(0.48145466, 0.4578275, 0.40821073)",
        "(0.26862954, 0.26130258, 0.27577711)",
    }
    noqa = actions[1]["edit"]["changes"][uri][0]
    assert noqa["newText"] == "  # noqa: CG101" and noqa["range"]["start"]["line"] == 8

    # An edit in the buffer (not saved) is linted as it is: the finding goes away.
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": CLEAN}]},
    )
    assert client.diagnostics(uri) == []


def test_safe_fixes_are_labelled_and_fix_all_applies_them(client, tmp_path):
    path = tmp_path / "noqa.py"
    text = "x = 1  # noqa: CG999\n"
    (tmp_path / "pyproject.toml").write_text('[tool.clipguard]\nextend-select = ["CG9"]\n')
    (cg901,) = _open(client, path, text)
    assert cg901["code"] == "CG901"
    actions = client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": path.as_uri()},
            "range": cg901["range"],
            "context": {"diagnostics": [cg901]},
        },
    )["result"]
    assert actions[0]["title"] == "clipguard (CG901): Remove the unused `noqa` directive (safe fix)"
    assert actions[0]["isPreferred"] is True
    fix_all = client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": path.as_uri()},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": [], "only": ["source.fixAll"]},
        },
    )["result"]
    assert [a["kind"] for a in fix_all] == ["source.fixAll.clipguard"]
    assert fix_all[0]["edit"]["changes"][path.as_uri()][0]["newText"] == "x = 1\n"


def test_configuration_is_read_and_torch_never_imported(client, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.clipguard]\nignore = ["CG101"]\n')
    assert _open(client, tmp_path / "ignored.py", BUGGY) == []
    (tmp_path / "pyproject.toml").write_text('[tool.clipguard]\nexclude = ["skipped.py"]\n')
    assert _open(client, tmp_path / "skipped.py", BUGGY) == []
    # Columns count UTF-16 units, the protocol's default: the emoji counts two.
    (tmp_path / "pyproject.toml").write_text('[tool.clipguard]\nextend-select = ["CG9"]\n')
    (diagnostic,) = _open(client, tmp_path / "wide.py", 'x = "\U0001f642"  # noqa: CG999\n')
    assert diagnostic["range"]["start"] == {"line": 0, "character": 10}
    client.request("shutdown", None)
    client.notify("exit", None)
    assert client.process.wait(timeout=30) == 0
    modules = _imported_modules(client.process.stderr.read().decode())
    assert "pygls" in modules and "clipguard" in modules
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_without_pygls_the_command_says_how_to_install_it():
    import sys

    code = (
        "import sys; sys.modules['pygls'] = None; from clipguard.cli import main; main(['server'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'clipguard[server]'" in result.stderr and "Traceback" not in result.stderr

"""What a command run in a rehearsal container does (`kubectl exec`).

Nothing a runbook execs ever runs on the host. A rehearsal container answers a small, declared
set of commands: the basics every image has here (`true`, `false`, `echo`, `env`, `hostname`,
`cat`, `sleep`, `sh -c` with `;`, `&&`, `||` and `exit`), plus the commands an image's own file
under `sample-configs/rehearsal/images/` declares (the sample app's `npm run migrate:status`, for
one), with the output they print and their exit code. Anything else is a binary the image lacks,
and is answered as containerd and runc answer it.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from cockpit.rehearsal.samples import scenario_dir
from cockpit.rehearsal.store import JSON

Write = Callable[[bytes], Awaitable[None]]

BASICS = ("true", "false", "echo", "env", "hostname", "cat", "sleep", "sh", "bash")
SHELLS = ("sh", "bash")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_SLEEP = 3600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Command(_Strict):
    """One command line the image answers, exactly as written (argv), and what it prints."""

    argv: list[str] = Field(min_length=1)
    stdout: str = ""
    stderr: str = ""
    exit_code: int = Field(default=0, ge=0, le=255)


class Program(_Strict):
    """A binary the image has, for the arguments no declared command matches; `{args}` in its
    output stands for those arguments, `{last}` for the last one."""

    name: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int = Field(default=1, ge=0, le=255)


class Image(_Strict):
    repository: str
    command: list[Command] = []
    program: list[Program] = []


class ExecFailed(Exception):
    """The runtime could not start the process (a missing binary): no exit code, an error."""


def images_dir() -> Path:
    return scenario_dir() / "images"


@cache
def declared_images() -> dict[str, Image]:
    """The images' own command sets, by repository (the image reference without its tag)."""
    found: dict[str, Image] = {}
    for path in sorted(images_dir().glob("*.toml")):
        image = Image.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        found[image.repository] = image
    return found


def repository(image: str) -> str:
    """`registry.example.com:5000/app:1.2@sha256:…` -> `registry.example.com:5000/app`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def container_env(pod: JSON, container: JSON) -> dict[str, str]:
    """What `env` shows in the container: the runtime's defaults, the pod's service links'
    `KUBERNETES_*`, and the container's own literal `env` values."""
    env = {
        "PATH": PATH,
        "HOSTNAME": pod["metadata"]["name"],
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "HOME": "/root",
    }
    for item in container.get("env") or []:
        if isinstance(item, dict) and "name" in item and "value" in item:
            env[str(item["name"])] = str(item["value"])
    return env


@dataclass
class Process:
    """One exec'd process: its container, its streams, and what its image declares."""

    pod: JSON
    container: JSON
    stdin: AsyncIterator[bytes] | None
    stdout: Write
    stderr: Write
    tty: bool = False

    @property
    def image(self) -> Image | None:
        return declared_images().get(repository(str(self.container.get("image", ""))))

    def has(self, name: str) -> bool:
        image = self.image
        if name in BASICS:
            return True
        if image is None:
            return False
        return any(c.argv[0] == name for c in image.command) or any(
            p.name == name for p in image.program
        )

    async def run(self, argv: list[str]) -> int:
        """Run argv as the runtime would start it: a missing binary is an ExecFailed."""
        name = argv[0]
        if not self.has(name):
            raise ExecFailed(
                f'exec: "{name}": executable file not found in $PATH'
                if "/" not in name
                else f'exec: "{name}": stat {name}: no such file or directory'
            )
        return await self._program(argv)

    async def _program(self, argv: list[str]) -> int:
        name, args = argv[0], argv[1:]
        env = container_env(self.pod, self.container)
        image = self.image
        if image is not None:
            for command in image.command:
                if command.argv == argv:
                    await self._print(command.stdout, command.stderr)
                    return command.exit_code
        if name == "true":
            return 0
        if name == "false":
            return 1
        if name == "echo":
            newline = not args or args[0] != "-n"
            words = args if newline else args[1:]
            await self.stdout((" ".join(words) + ("\n" if newline else "")).encode())
            return 0
        if name == "env":
            await self.stdout("".join(f"{k}={v}\n" for k, v in env.items()).encode())
            return 0
        if name == "hostname":
            await self.stdout(f"{env['HOSTNAME']}\n".encode())
            return 0
        if name == "cat":
            return await self._cat(args, env)
        if name == "sleep":
            return await self._sleep(args)
        if name in SHELLS:
            return await self._shell(name, args, env)
        if image is not None:
            for program in image.program:
                if program.name == name:
                    fill = {"{args}": " ".join(args), "{last}": args[-1] if args else ""}
                    out, err = program.stdout, program.stderr
                    for key, value in fill.items():
                        out, err = out.replace(key, value), err.replace(key, value)
                    await self._print(out, err)
                    return program.exit_code
        if self.has(name):
            await self.stderr(
                f"{name}: rehearsal: the image declares no answer for {shlex.join(argv)}\n".encode()
            )
            return 1
        # only a shell reaches here for a name the image lacks
        await self.stderr(f"sh: 1: {name}: not found\n".encode())
        return 127

    async def _print(self, stdout: str, stderr: str) -> None:
        if stdout:
            await self.stdout(stdout.encode())
        if stderr:
            await self.stderr(stderr.encode())

    async def _cat(self, args: list[str], env: dict[str, str]) -> int:
        if not args or args == ["-"]:
            if self.stdin is not None:
                async for chunk in self.stdin:
                    await self.stdout(chunk)
            return 0
        code = 0
        for path in args:
            if path == "/etc/hostname":
                await self.stdout(f"{env['HOSTNAME']}\n".encode())
            else:
                await self.stderr(f"cat: {path}: No such file or directory\n".encode())
                code = 1
        return code

    async def _sleep(self, args: list[str]) -> int:
        try:
            seconds = float(args[0]) if len(args) == 1 else -1.0
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            await self.stderr(b"sleep: invalid number\n")
            return 1
        await asyncio.sleep(min(seconds, MAX_SLEEP))
        return 0

    async def _shell(self, name: str, args: list[str], env: dict[str, str]) -> int:
        if len(args) >= 2 and args[0] == "-c":
            code = await self.script(name, args[1], env)
            return -code - 1 if code < 0 else code
        if args:
            await self.stderr(f"{name}: 0: cannot open {args[0]}: No such file\n".encode())
            return 2
        # `sh` reading commands from stdin, one line at a time; on a terminal, with a prompt
        code = 0
        if self.stdin is None:
            return 0
        pending = b""
        prompt = b"# " if self.tty else b""
        if prompt:
            await self.stdout(prompt)
        async for chunk in self.stdin:
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                code = await self.script(name, line.decode(errors="replace"), env)
                if code < 0:
                    return -code - 1
                if prompt:
                    await self.stdout(prompt)
        if pending.strip():
            code = await self.script(name, pending.decode(errors="replace"), env)
        return -code - 1 if code < 0 else code

    async def script(self, shell: str, text: str, env: dict[str, str]) -> int:
        """A shell command line: simple commands joined by `;`, `&&` and `||`, and `exit N`.

        Returns the exit status, or -(N + 1) when the line ran `exit N`. Pipes, redirections
        and substitutions are refused plainly rather than half done."""
        if re.search(r"[|<>`]|\$\(", text.replace("||", "")):
            refusal = f"{shell}: rehearsal: pipes, redirections and substitutions are not simulated"
            await self.stderr(f"{refusal}\n".encode())
            return 2

        def expand(match: re.Match[str]) -> str:
            return env.get(match.group(1) or match.group(2), "")

        expanded = re.sub(r"\$\{(\w+)\}|\$(\w+)", expand, text)
        try:
            lexer = shlex.shlex(expanded, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            await self.stderr(f"{shell}: 1: Syntax error: Unterminated quoted string\n".encode())
            return 2
        code = 0
        run_next = True
        words: list[str] = []
        for token in [*tokens, ";"]:
            if token not in (";", "&&", "||"):
                words.append(token)
                continue
            if words and run_next:
                if words[0] == "exit":
                    try:
                        return -(int(words[1]) % 256 if len(words) > 1 else code) - 1
                    except ValueError:
                        await self.stderr(
                            f"{shell}: 1: exit: Illegal number: {words[1]}\n".encode()
                        )
                        return 2
                code = await self._program(words)
            words = []
            run_next = token == ";" or (token == "&&") == (code == 0)
        return code

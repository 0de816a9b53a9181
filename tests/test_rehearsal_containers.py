"""What an exec'd command does in a rehearsal container: a declared set, never the host."""

from __future__ import annotations

import pytest

from cockpit.rehearsal.containers import ExecFailed, Process, declared_images, repository

POD = {"metadata": {"name": "app-1", "namespace": "shop"}}


async def run(argv, image="shop/app:1", stdin=None, env=None):
    out: list[bytes] = []
    err: list[bytes] = []

    async def write_out(data: bytes) -> None:
        out.append(data)

    async def write_err(data: bytes) -> None:
        err.append(data)

    async def feed():
        for chunk in stdin or []:
            yield chunk

    container = {"name": "app", "image": image, "env": env or []}
    process = Process(POD, container, feed() if stdin is not None else None, write_out, write_err)
    code = await process.run(argv)
    return code, b"".join(out).decode(), b"".join(err).decode()


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.example.com:5000/team/app:1.2", "registry.example.com:5000/team/app"),
        ("app@sha256:abc", "app"),
        ("registry.example.com/servicedesk", "registry.example.com/servicedesk"),
    ],
)
def test_an_images_repository_is_its_reference_without_tag_or_digest(image, expected):
    assert repository(image) == expected


async def test_the_shell_runs_sequences_and_exit_codes():
    env = [{"name": "MODE", "value": "fast"}]
    assert await run(["sh", "-c", "echo $MODE ${HOSTNAME}; false || echo rescued"], env=env) == (
        0,
        "fast app-1\nrescued\n",
        "",
    )
    assert await run(["sh", "-c", "true && exit 7; echo never"]) == (7, "", "")
    assert (await run(["sh", "-c", "false && echo no"]))[0] == 1
    code, _, err = await run(["sh", "-c", "cat /etc/passwd | grep root"])
    assert code == 2 and "pipes, redirections and substitutions are not simulated" in err
    code, _, err = await run(["sh", "-c", "kubectl get pods"])  # nothing on the host runs
    assert code == 127 and err == "sh: 1: kubectl: not found\n"


async def test_a_binary_the_image_lacks_is_the_runtimes_error():
    with pytest.raises(ExecFailed, match=r'exec: "psql": executable file not found in \$PATH'):
        await run(["psql", "-c", "select 1"])
    with pytest.raises(ExecFailed, match=r"stat /bin/bash5: no such file or directory"):
        await run(["/bin/bash5"])
    # npm is declared only for the sample app's image
    with pytest.raises(ExecFailed):
        await run(["npm", "run", "migrate:status"])


async def test_stdin_and_the_declared_commands():
    assert await run(["cat"], stdin=[b"a\n", b"b"]) == (0, "a\nb", "")
    assert await run(["cat", "/etc/hostname"]) == (0, "app-1\n", "")
    assert "servicedesk" in {r.rsplit("/", 1)[-1] for r in declared_images()}
    code, out, _ = await run(
        ["npm", "run", "migrate:status"], image="registry.example.com/servicedesk:2"
    )
    assert code == 0 and "1 migration pending" in out
    code, _, err = await run(["npm", "test"], image="registry.example.com/servicedesk:2")
    assert code == 1 and 'Missing script: "test"' in err

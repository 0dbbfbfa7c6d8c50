"""The AuthX parity test's two backends, in one process (PortcullisIntegrationTests/AuthXParityTests).

- `protected`: a FastAPI app guarded by AuthX 1.7.1's own dependencies (`access_token_required`,
  `refresh_token_required`, `fresh_token_required`, `scopes_required`), with a blocklist.
- `twin`: the same endpoints with no authentication at all; the test puts Portcullis in front of it
  with the equivalent `routes`, and expects the same answers from both.

Both listen on loopback port 0. Once they accept connections the script writes one JSON document
to the path given as its only argument: the two ports, and tokens minted by AuthX itself, some of
them revoked (in the protected app's blocklist; the test revokes them in Portcullis). It then
serves until it is terminated.

Usage: authx_app.py OUTPUT.json   (PORTCULLIS_PARITY_SECRET holds the HS256 secret)
"""

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from datetime import timedelta

import jwt
import uvicorn
from authx import AuthX, AuthXConfig
from fastapi import Depends, FastAPI, Request

SECRET = os.environ["PORTCULLIS_PARITY_SECRET"]

config = AuthXConfig(
    JWT_SECRET_KEY=SECRET,
    JWT_ALGORITHM="HS256",
    JWT_TOKEN_LOCATION=["headers"],
)
auth = AuthX(config=config)
revoked_jtis: set[str] = set()


def in_blocklist(token: str) -> bool:
    # AuthX asks before it verifies anything, so the token may be garbage.
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("jti") in revoked_jtis
    except jwt.PyJWTError:
        return False


auth.set_callback_token_blocklist(in_blocklist)

protected = FastAPI()
auth.handle_errors(protected)
twin = FastAPI()


def answer(endpoint: str, subject):
    return {"endpoint": endpoint, "sub": subject}


# The protected app reads the subject from the verified token, the twin from the header
# Portcullis sets (proxy.claim_headers): equal bodies also show the claim reached the backend.
@protected.get("/health")
async def health_protected():
    return answer("health", None)


@protected.get("/items")
async def items_protected(payload=Depends(auth.access_token_required)):
    return answer("items", payload.sub)


@protected.post("/refresh")
async def refresh_protected(payload=Depends(auth.refresh_token_required)):
    return answer("refresh", payload.sub)


@protected.post("/password")
async def password_protected(payload=Depends(auth.fresh_token_required)):
    return answer("password", payload.sub)


@protected.get("/users")
async def users_protected(payload=Depends(auth.scopes_required("users:read"))):
    return answer("users", payload.sub)


@protected.put("/admin/settings")
async def admin_protected(payload=Depends(auth.scopes_required("admin:settings", "admin:users"))):
    return answer("admin", payload.sub)


@protected.get("/reports")
async def reports_protected(payload=Depends(auth.scopes_required("reports:read", "admin", all_required=False))):
    return answer("reports", payload.sub)


def subject(request: Request):
    return request.headers.get("x-auth-subject")


@twin.get("/health")
async def health_twin(request: Request):
    return answer("health", None)


@twin.get("/items")
async def items_twin(request: Request):
    return answer("items", subject(request))


@twin.post("/refresh")
async def refresh_twin(request: Request):
    return answer("refresh", subject(request))


@twin.post("/password")
async def password_twin(request: Request):
    return answer("password", subject(request))


@twin.get("/users")
async def users_twin(request: Request):
    return answer("users", subject(request))


@twin.put("/admin/settings")
async def admin_twin(request: Request):
    return answer("admin", subject(request))


@twin.get("/reports")
async def reports_twin(request: Request):
    return answer("reports", subject(request))


def mint() -> dict:
    """Tokens as an AuthX application issues them, by name; `revoked_*` are in the blocklist."""
    other = AuthX(config=AuthXConfig(JWT_SECRET_KEY="another-secret-another-secret-0123", JWT_ALGORITHM="HS256",
                                      JWT_TOKEN_LOCATION=["headers"]))
    tokens = {
        "access": auth.create_access_token(uid="alice"),
        "fresh": auth.create_access_token(uid="alice", fresh=True),
        "refresh": auth.create_refresh_token(uid="alice"),
        "users_read": auth.create_access_token(uid="bob", scopes=["users:read"]),
        "users_wildcard": auth.create_access_token(uid="carol", scopes=["users:*", "admin:*"]),
        "admin_partial": auth.create_access_token(uid="dave", scopes=["admin:settings", "users:write"]),
        "reports_read": auth.create_access_token(uid="erin", scopes=["reports:read"]),
        "scoped_refresh": auth.create_refresh_token(uid="frank", scopes=["users:read"]),
        "empty_scopes": auth.create_access_token(uid="grace", scopes=[]),
        "expired": auth.create_access_token(uid="alice", expiry=timedelta(seconds=-30)),
        "wrong_key": other.create_access_token(uid="mallory"),
        "garbage": "not-a-jwt",
        "revoked_access": auth.create_access_token(uid="alice"),
        "revoked_refresh": auth.create_refresh_token(uid="alice"),
        "revoked_fresh": auth.create_access_token(uid="alice", fresh=True, scopes=["users:read"]),
    }
    jtis = {}
    for name, token in tokens.items():
        if name.startswith("revoked_"):
            jti = jwt.decode(token, options={"verify_signature": False})["jti"]
            revoked_jtis.add(jti)
            jtis[name] = jti
    return {"tokens": tokens, "revoked_jtis": jtis}


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Server(uvicorn.Server):
    # Each uvicorn server takes SIGTERM/SIGINT for itself, so with two only one would stop;
    # main() stops both instead.
    def capture_signals(self):
        return contextlib.nullcontext()


async def main(output: str) -> None:
    sockets = {"protected": listening_socket(), "twin": listening_socket()}
    servers = [
        Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        for app in (protected, twin)
    ]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for number in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(number, stop)
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in zip(servers, sockets.values())]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            for task in tasks:
                if task.done():
                    task.result()
            raise SystemExit("a server stopped while starting")
        await asyncio.sleep(0.02)
    document = {name: sock.getsockname()[1] for name, sock in sockets.items()} | mint()
    # Written whole, then renamed: the test never reads half a document.
    with open(output + ".partial", "w") as f:
        json.dump(document, f)
    os.replace(output + ".partial", output)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

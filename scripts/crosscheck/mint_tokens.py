#!/usr/bin/env python3
"""Mints JWTs with PyJWT and AuthX for CrossCheckPythonTests.

Writes one JSON document to the path given as the first argument:

    {
      "now": <the time the Swift verifier is given>,
      "keys": {name: {"secret": str} | {"pem": str} | {"jwks": str}},
      "valid": [{"source", "key", "alg", "token", "claims"}],
      "invalid": [{"source", "key", "alg", "token", "expect", "why"}]
    }

`claims` is what PyJWT's own `jwt.decode` reads from the token (signature
checked, time checks off: `now` is fixed, the wall clock is not).
`expect` is the `TokenError.Code` raw value the verifier must refuse with.
A seed (second argument, default 1) makes the claims reproducible; the keys
are fresh every run.
"""

import base64
import datetime
import hashlib
import hmac
import json
import random
import sys
import time

import jwt
from authx import AuthX, AuthXConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

# AuthX stamps iat with the wall clock, so the verifier's `now` is a little after minting.
NOW = float(int(time.time()) + 600)
HS_SECRET = "crosscheck-hmac-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCD"  # 64 bytes: enough for HS512
OTHER_HS_SECRET = "crosscheck-other-secret-0123456789-abcdefghijklmnopqrstuvwxyz-AB"

ALGORITHMS = {
    "HS256": "hs", "HS384": "hs", "HS512": "hs",
    "RS256": "rsa", "RS384": "rsa", "RS512": "rsa",
    "PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
    "ES256": "p256", "ES384": "p384", "ES512": "p521",
    "EdDSA": "ed25519",
}
# AuthX takes PEM strings for the asymmetric algorithms and signs through PyJWT; its config has no EdDSA.
AUTHX_ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS512", "PS256", "PS384", "ES256", "ES384", "ES512"]

# Strings that stress a JSON reader: escapes, control characters, U+2028,
# non-BMP characters (surrogate pairs in the ASCII JSON PyJWT writes), NUL.
PIECES = ["a", "Z", "0", " ", "_", "-", "/", "\\", '"', "\n", "\t", "\r", "\b", "\f", "\x00", "\x1f", "\x7f",
          "\u00e9", "\u20ac", "\u2028", "\u2029", "\ufeff", "\uffff", "\U0001F600", "\U0010FFFF", "\u65e5\u672c",
          "alice", "user@example.com", "\\u0041"]


def private_keys():
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def jwk(name, key):
    public = key.public_key()
    if name == "rsa":
        entry = json.loads(RSAAlgorithm.to_jwk(public))
    elif name == "ed25519":
        entry = json.loads(OKPAlgorithm.to_jwk(public))
    else:
        entry = json.loads(ECAlgorithm.to_jwk(public))
    entry["kid"] = "kid-" + name
    entry["use"] = "sig"
    return entry


def text(rng, low=0, high=12):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(low, high)))


def json_value(rng, depth=0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return text(rng)
    if kind == 1:
        return rng.randint(-2**53, 2**53)
    if kind == 2:
        return rng.uniform(-1e12, 1e12)
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.choice([0, -0.0, 1e-300, 1.7976931348623157e308, 2**63, -2**63 - 1])
    if kind in (5, 6):
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {text(rng, 1, 6): json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def a_time(rng, base):
    """An int or a float time near `base`, both forms AuthX and PyJWT write."""
    value = base + rng.uniform(-0.999, 0.999)
    return int(value) if rng.random() < 0.5 else round(value, rng.randint(0, 7))


def valid_claims(rng, index):
    """Random claims that are valid at NOW (with PyJWT's truncation of float times)."""
    claims = {"sub": text(rng, 1, 16)}
    if rng.random() < 0.8:
        claims["jti"] = "%d-%s" % (index, text(rng, 0, 8))
    if rng.random() < 0.9:
        claims["exp"] = a_time(rng, NOW + rng.randint(2, 86_400 * 30))
    if rng.random() < 0.5:
        claims["nbf"] = a_time(rng, NOW - rng.randint(1, 86_400))
    if rng.random() < 0.7:
        claims["iat"] = a_time(rng, NOW - rng.randint(1, 86_400))
    aud_kind = rng.randrange(4)
    if aud_kind == 1:
        claims["aud"] = text(rng, 1, 8)
    elif aud_kind == 2:
        claims["aud"] = [text(rng, 0, 8) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.6:
        claims["iss"] = rng.choice(["https://issuer.example", text(rng, 0, 10)])
    if rng.random() < 0.6:
        claims["type"] = rng.choice(["access", "refresh", "access", "id", ""])
    if rng.random() < 0.4:
        claims["csrf"] = text(rng, 0, 10)
    if rng.random() < 0.5:
        claims["fresh"] = rng.random() < 0.5
    for n in range(rng.randint(0, 4)):
        claims["x%d%s" % (n, text(rng, 0, 3))] = json_value(rng)
    items = list(claims.items())
    rng.shuffle(items)
    return dict(items)


def decoded(token, key, alg):
    """What PyJWT reads, with its time and audience checks off (NOW is not the wall clock)."""
    return jwt.decode(
        token, key, algorithms=[alg],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False, "verify_iss": False},
    )


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value):
    return b64(json.dumps(value, separators=(",", ":")).encode())


def main():
    out_path = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    keys = private_keys()
    others = private_keys()
    public = {name: key.public_key() for name, key in keys.items()}
    public["hs"] = HS_SECRET
    signing = dict(keys)
    signing["hs"] = HS_SECRET

    key_doc = {"hs": {"secret": HS_SECRET}}
    for name, key in keys.items():
        key_doc[name] = {"pem": public_pem(key)}
    key_doc["jwks"] = {"jwks": json.dumps({"keys": [jwk(name, key) for name, key in keys.items()]})}

    valid, invalid = [], []
    index = 0

    # PyJWT: every algorithm, with and without a kid header; some through the JWKS.
    for alg, key_name in ALGORITHMS.items():
        for _ in range(220):
            index += 1
            claims = valid_claims(rng, index)
            headers = None
            table = key_name
            if key_name != "hs" and rng.random() < 0.3:
                headers = {"kid": "kid-" + key_name}
                table = "jwks"
            elif rng.random() < 0.2:
                headers = {"kid": text(rng, 1, 6)}  # a hint only: these tables have no kid
            token = jwt.encode(claims, signing[key_name], algorithm=alg, headers=headers)
            valid.append({"source": "pyjwt", "key": table, "alg": alg, "token": token,
                          "claims": decoded(token, public[key_name], alg)})

    # AuthX: its own token API (access and refresh, cookie CSRF on or off, float iat/exp).
    for alg in AUTHX_ALGORITHMS:
        key_name = ALGORITHMS[alg]
        instances = []  # building an AuthXConfig is slow (pydantic-settings); a few per algorithm suffice
        for csrf in (True, False):
            for issuer in (None, "https://issuer.example", "authx-" + text(rng, 1, 4)):
                settings = dict(JWT_ALGORITHM=alg, JWT_TOKEN_LOCATION=["headers", "cookies"], JWT_COOKIE_CSRF_PROTECT=csrf)
                if key_name == "hs":
                    settings["JWT_SECRET_KEY"] = HS_SECRET
                else:
                    settings["JWT_PRIVATE_KEY"] = private_pem(keys[key_name])
                    settings["JWT_PUBLIC_KEY"] = public_pem(keys[key_name])
                if issuer:
                    settings["JWT_ENCODE_ISSUER"] = issuer
                instances.append(AuthX(config=AuthXConfig(**settings)))
        # AuthX reloads the private PEM for every token, and loading an RSA key is slow: fewer asymmetric ones.
        for n in range(110 if key_name == "hs" else 25):
            index += 1
            auth = rng.choice(instances)
            uid = text(rng, 1, 16)
            data = {"x%d" % i: json_value(rng) for i in range(rng.randint(0, 3))}
            audience = rng.choice([None, "api", ["api", text(rng, 1, 5)]])
            expiry = datetime.timedelta(seconds=rng.uniform(3_600, 86_400 * 30))
            if n % 3 == 2:
                token = auth.create_refresh_token(uid=uid, data=data, audience=audience, expiry=expiry)
            else:
                token = auth.create_access_token(uid=uid, fresh=rng.random() < 0.5, data=data,
                                                 audience=audience, expiry=expiry)
            valid.append({"source": "authx", "key": key_name, "alg": alg, "token": token,
                          "claims": decoded(token, public[key_name], alg)})

    # Refusals, each with the code the verifier must give.
    for alg, key_name in ALGORITHMS.items():
        for n in range(24):
            index += 1
            claims = valid_claims(rng, index)
            claims["exp"] = a_time(rng, NOW + 3600)
            claims.pop("nbf", None)
            claims.pop("iat", None)
            token = jwt.encode(claims, signing[key_name], algorithm=alg)
            header, payload, signature = token.split(".")
            kind = n % 8
            if kind == 0:
                # One base64url character of the signature changed (not the last: its spare bits must stay zero).
                position = rng.randrange(len(signature) - 1)
                replacement = rng.choice([c for c in "AQgw_-9z" if c != signature[position]])
                bad, expect, why = ".".join([header, payload, signature[:position] + replacement + signature[position + 1:]]), "badSignature", "signature tampered"
            elif kind == 1:
                changed = dict(claims, sub=claims["sub"] + "!")
                bad, expect, why = ".".join([header, b64json(changed), signature]), "badSignature", "payload tampered"
            elif kind == 2:
                other = OTHER_HS_SECRET if key_name == "hs" else others[key_name]
                bad, expect, why = jwt.encode(claims, other, algorithm=alg), "badSignature", "signed with another key"
            elif kind == 3:
                expired = dict(claims, exp=a_time(rng, NOW - rng.randint(1, 86_400)))
                bad, expect, why = jwt.encode(expired, signing[key_name], algorithm=alg), "expired", "exp in the past"
            elif kind == 4:
                # exp == NOW is already expired for PyJWT (exp <= now); a float just above truncates to NOW.
                edge = dict(claims, exp=rng.choice([int(NOW), NOW + 0.5]))
                bad, expect, why = jwt.encode(edge, signing[key_name], algorithm=alg), "expired", "exp truncates to now"
            elif kind == 5:
                later = dict(claims, nbf=a_time(rng, NOW + rng.randint(2, 86_400)))
                bad, expect, why = jwt.encode(later, signing[key_name], algorithm=alg), "notYetValid", "nbf in the future"
            elif kind == 6:
                later = dict(claims, iat=a_time(rng, NOW + rng.randint(2, 86_400)))
                bad, expect, why = jwt.encode(later, signing[key_name], algorithm=alg), "issuedInFuture", "iat in the future"
            else:
                # The RS256→HS256 confusion: HMAC keyed with the public key text. HS is not allowed for
                # asymmetric tables; for the HS table, the header claims an asymmetric alg instead.
                if key_name == "hs":
                    forged_header = b64json({"alg": "RS256", "typ": "JWT"})
                    key_bytes = HS_SECRET.encode()
                else:
                    forged_header = b64json({"alg": "HS256", "typ": "JWT"})
                    key_bytes = key_doc[key_name]["pem"].encode()
                signing_input = forged_header + "." + payload
                mac = hmac.new(key_bytes, signing_input.encode(), hashlib.sha256).digest()
                bad, expect, why = signing_input + "." + b64(mac), "algorithmNotAllowed", "alg confusion"
            invalid.append({"source": "pyjwt", "key": key_name, "alg": alg, "token": bad, "expect": expect, "why": why})
        # alg "none", as PyJWT writes it: an empty signature segment.
        unsecured = jwt.encode(valid_claims(rng, index), None, algorithm="none")
        invalid.append({"source": "pyjwt", "key": key_name, "alg": alg, "token": unsecured, "expect": "malformed", "why": "alg none"})

    with open(out_path, "w", encoding="utf-8") as out:
        json.dump({"now": NOW, "keys": key_doc, "valid": valid, "invalid": invalid}, out, ensure_ascii=True)
    print("%d valid, %d invalid tokens written to %s" % (len(valid), len(invalid), out_path))


if __name__ == "__main__":
    main()

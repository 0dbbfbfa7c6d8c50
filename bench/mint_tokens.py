#!/usr/bin/env python3
"""HS256/384/512 JWTs for the benchmark, without starting Portcullis.

`portcullis mint` starts a process per token: fine for one, far too slow for
the 10,000 distinct tokens the rotating-token row needs. This signs them with
hmac/hashlib/base64 directly, in the claim shape `portcullis mint` produces
(Sources/PortcullisCore/Minting/TokenMinter.swift): header {"alg","typ"},
claims {"exp","fresh","iat","jti","sub","type"}, both JSON with sorted keys
and no spaces, base64url without padding. The secret is used as its UTF-8
bytes, as Portcullis's `jwt.secret` and HAProxy's `jwt_verify` both do.

One token per line on stdout:

    mint_tokens.py --secret S                        one valid HS256 token, 1 h
    mint_tokens.py --secret S --count 10000          10,000 tokens, each its own jti
    mint_tokens.py --secret S --ttl -60              expired a minute ago
    mint_tokens.py --secret S --tamper               signature not valid for S
    mint_tokens.py --secret S --alg HS384            signed and labelled HS384
    mint_tokens.py --secret S --alg HS512 --sign-as HS256
                                                     labelled HS512, but the
                                                     signature is a valid HS256 one
                                                     (only an alg pin refuses it)
    mint_tokens.py --secret S --alg none             alg "none", empty signature

Distinct tokens differ in their jti (an uppercase UUID, like mint's), so each
is a token the proxy has not verified before.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(obj):
    return b64url(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def mint(secret, alg, sign_as, claims, tamper=False):
    signing_input = segment({"alg": alg, "typ": "JWT"}) + "." + segment(claims)
    if sign_as == "none":
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode("ascii"), _HASHES[sign_as]).digest()
    if tamper:
        # Flip one bit: same length, same alphabet, wrong signature.
        mac = bytes([mac[0] ^ 0x01]) + mac[1:]
    return signing_input + "." + b64url(mac)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--secret", required=True, help="the HMAC secret (its UTF-8 bytes are the key)")
    ap.add_argument("--alg", default="HS256", choices=sorted(_HASHES) + ["none"],
                    help="the header's alg (default HS256)")
    ap.add_argument("--sign-as", choices=sorted(_HASHES) + ["none"],
                    help="the algorithm actually used to sign (default: --alg)")
    ap.add_argument("--count", type=int, default=1, help="how many tokens, each with its own jti")
    ap.add_argument("--ttl", type=int, default=3600,
                    help="seconds from now to exp (negative: already expired); default 3600")
    ap.add_argument("--sub", default="bench-user")
    ap.add_argument("--tamper", action="store_true", help="make the signature invalid")
    args = ap.parse_args()
    if args.count < 1:
        ap.error("--count must be at least 1")
    sign_as = args.sign_as or args.alg
    secret = args.secret.encode("utf-8")
    now = int(time.time())
    # An expired token was also issued in the past (iat before exp).
    iat = min(now, now + args.ttl - 60)
    out = sys.stdout
    jtis = set()
    for _ in range(args.count):
        jti = str(uuid.uuid4()).upper()
        jtis.add(jti)
        claims = {"sub": args.sub, "type": "access", "fresh": False,
                  "iat": iat, "exp": now + args.ttl, "jti": jti}
        out.write(mint(secret, args.alg, sign_as, claims, args.tamper) + "\n")
    if len(jtis) != args.count:
        sys.exit("mint_tokens.py: jti collision; run again")
    return 0


if __name__ == "__main__":
    sys.exit(main())

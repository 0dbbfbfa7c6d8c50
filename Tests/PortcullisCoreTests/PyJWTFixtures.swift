/// Tokens minted by PyJWT 2.15.1 (with `cryptography` 50 for the keys), the
/// library AuthX uses, so that our verifier is checked against an independent
/// implementation. Made with this script (keys are generated fresh each run;
/// only the public halves are kept):
///
/// ```python
/// import jwt
/// from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519
/// secret = "pyjwt-fixture-secret-0123456789-abcdefghij"
/// authx = jwt.encode({"sub": "alice", "jti": "0b5f1c9e-6a7d-4c1e-9a53-2f6a1e9b7c11", "type": "access",
///     "fresh": False, "csrf": "7d3f0c2a-1b4e-4f5a-8c6d-9e0f1a2b3c4d",
///     "iat": 1700000000.123456, "exp": 1700000900.654321}, secret, algorithm="HS256")
/// unicode = jwt.encode({"iss": "https://issuer.example", "aud": ["api", "admin"], "sub": "Zo\u00eb \U0001F600",
///     "roles": ["reader", "writer"], "meta": {"depth": {"n": [1, 2.5, None, True]}}, "exp": 1800000000},
///     secret, algorithm="HS256")
/// kid = jwt.encode({"sub": "bob", "nbf": 1700000000, "iat": 1700000000, "exp": 1700003600},
///     secret, algorithm="HS256", headers={"kid": "k1"})
/// payload = {"sub": "carol", "iat": 1700000000, "exp": 1700003600}
/// r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
/// rs256, ps256 = jwt.encode(payload, r, algorithm="RS256"), jwt.encode(payload, r, algorithm="PS256")
/// # likewise ES256/ES384/ES512 with ec.SECP256R1/SECP384R1/SECP521R1 and EdDSA with ed25519;
/// # each public key exported as SubjectPublicKeyInfo PEM.
/// ```
enum PyJWTFixtures {
    static let secret = "pyjwt-fixture-secret-0123456789-abcdefghij"

    /// HS256, header {"alg":"HS256","typ":"JWT"}; AuthX-shaped payload: sub alice, jti, type access, fresh false, csrf, iat 1700000000.123456, exp 1700000900.654321.
    static let authxAccess =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6IjBiNWYxYzllLTZhN2QtNGMxZS05YTUzLTJmNmExZTliN2MxMSIsInR5cGUiOiJhY2Nlc3MiLCJmcmVzaCI6ZmFsc2UsImNzcmYiOiI3ZDNmMGMyYS0xYjRlLTRmNWEtOGM2ZC05ZTBmMWEyYjNjNGQiLCJpYXQiOjE3MDAwMDAwMDAuMTIzNDU2LCJleHAiOjE3MDAwMDA5MDAuNjU0MzIxfQ.1Xd46GDwnFNp0AsvDNHBBiVDQJ-wrQ1_IjfMjL9dFsQ"

    /// HS256; iss https://issuer.example, aud ["api","admin"], sub "Zoë 😀" written as \u00eb and the pair \ud83d\ude00, nested roles/meta claims, exp 1800000000.
    static let unicodeAudience =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjpbImFwaSIsImFkbWluIl0sInN1YiI6IlpvXHUwMGViIFx1ZDgzZFx1ZGUwMCIsInJvbGVzIjpbInJlYWRlciIsIndyaXRlciJdLCJtZXRhIjp7ImRlcHRoIjp7Im4iOlsxLDIuNSxudWxsLHRydWVdfX0sImV4cCI6MTgwMDAwMDAwMH0._ZUMdq_aOXVcBv2ksk8PIU9GR4jyh04AW9hdURj8D2U"

    /// HS256, header kid "k1"; sub bob, nbf = iat = 1700000000, exp 1700003600.
    static let withKeyID =
        "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJib2IiLCJuYmYiOjE3MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.QkwLZKEqm4ewz82uuAwLaXVNRbl_uAApNT0exuSyU7I"

    /// 2048-bit RSA public key for `rs256` and `ps256`.
    static let rsaPEM = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAiyCezfy/tDKRTlHFoA2u
        5tY2bjXh05zRTIrnKKnOdyKMspqRZ5JgO6nPk5mqU4ATlabxlkzY456wXMhZmjzA
        hgWYDeA3y/+xrpKG13Aihz4huv95Rx71lg9bXFrzRaScZSxOK0PiWSugCLA03xmi
        NSzh18990R9Vu+Gv5jKwioIj+12Vc46pWbXmyj5Fa3RBwk0Mk2q7RCxJUL+yS2Lq
        rcLh3a0nd3DwYKFVbXM7hBfUTQpMzvewZEWzLXff1gUWKX9t+iLWzMSrrEKe1M8C
        NlPCD4q7a5QjOuZoyNgDj9hmqdZZWmpRNXABkw9wQzr3Y2SunYTUYXCh0Pg4HYqz
        MwIDAQAB
        -----END PUBLIC KEY-----
        """

    /// RS256 of {"sub":"carol","iat":1700000000,"exp":1700003600}.
    static let rs256 =
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.hxOUCeRicaQs-ib6DyzxqEU37eJ5j8Bwp0h_kyUvHR-EU3TQ3F6QhjMShi8-Q58kYDzNqon61P3tjBvpgx6UzCWz-Bv7jADIKMAOg3cysZpZFJVlwmmZn5ruEdsKWawbwfgOBWEjFW6q39tt8-gELPwNa87HzZaVRTDNiOX1y-rnZS0YUGZI1Cq5oGeXcn_KwGWDaZrWu3IrtGiRbjgbeHKfsuX6DAGCktcgnsbyfeerm2hNiiXI7Z55vlUfGBddjOidnk5xT8TvFoLvfjAdTmC4TuaWQTN1gYPtdjhxXd1zwueuuLB8tQuegY-RnrAWnq6DcC1B5SZGseojVsfoGQ"

    /// PS256 (PSS, MGF1-SHA256, 32-byte salt) of the same payload with the same key.
    static let ps256 =
        "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.R-Rb24u02NTXFwYYcVvwozLv3vfRRNhNNeSgZs0F-9wvPMyKvXdNpXb3zLKSQXB1eGmHqfvBg567oI_lc_oxbPVUO8cJmffgDe-8PENiMc77lFXkmCXwn1KaJ-V8T9B1bYMCqurswMGH9DMvTLxeFINHAvov9skNZzxuBovBDlaPJzIhvRcBNx6CeahCez7WKXf5r-2VR0kJykql2Q66I1aqx0X2mP-iVVSWsWCofPb8xWsp5DvzeWJ29JM0qk-J4QGeZthpqXY57X6ejIYKS2ZU8BAPAGustQxCUSGD60dbmBaWWklj-NyJaaUKKubTPfGdYyd4hV5jJhXz4ju_pA"

    /// P-256 public key.
    static let p256PEM = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE04a91DW42oiPjItt3NJU5VZNBhZV
        NXNqpNAPUPf2Wyw5+7KZqHaZP6WAJZa4RhvXEy+Gy+XwMq5UmtTU/eHFow==
        -----END PUBLIC KEY-----
        """

    /// ES256 (raw r||s) of the same payload.
    static let es256 =
        "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.igWiSqljHrIFPFfvH-m3PF-JZooPKLSeorsSIZs6bxDlUH3b4JcByPuFFMnFYk1DqP16a2YmcfCt_nmwijn3YA"

    /// P-384 public key.
    static let p384PEM = """
        -----BEGIN PUBLIC KEY-----
        MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEbGkohrDKbOXxXrXpRxCACx9bR3CkpVqD
        DYT9FfbLGROTg0ZcedO0Cu00t53DIW4Amr5CdiUOWSn8hCGz4HSq4gRV1xCDjpQr
        6+o9fn7HqHej5psNqwugpHMjGDN8Rn0w
        -----END PUBLIC KEY-----
        """

    /// ES384 of the same payload.
    static let es384 =
        "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.Dd4fT2O-vcEbVBcps3-kFVNJoNlGdMd4DlNLCM7lGnQSVDaaWiQHb0DbG5DtxnP_GmlZ1doEZZssQ8wIyHda0uInt3a9A6OFKb-KGJ9MXQ8507IHYoytIALko5onaZCQ"

    /// P-521 public key.
    static let p521PEM = """
        -----BEGIN PUBLIC KEY-----
        MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQAmbv2ETFD3b35+3JCD+npfkS8sufY
        5Gxfh2zRUApG62P5dARYozvgw8lqV41wjXTJ8WHWvuO9G9xHB3IStim8CTABASc4
        SEpudPbUsj9Kf9/9GS7KPGz+Qcm2dxr7UmA/bG8quyENReU5Gh6zj9dD4O6R3wDA
        uiPmcfmRNwZgn+O5oB8=
        -----END PUBLIC KEY-----
        """

    /// ES512 (132-byte r||s) of the same payload.
    static let es512 =
        "eyJhbGciOiJFUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.AQvviT7S9xrNLbp5ukQ4x_Mf-G7XT1DFo1Hc-ZufCi0R_qXaIUtDYeFMwvinDNH-10u80vBpPRSEqzB3eKSHKOwpAajnPi_9u9dPjvUM_3PA1iJUTo1KzQ2hr6syGkv6bWJDxwQxKqyYlKHZZNR3utRxqCEA0vK6jrXpru5d5H3r-0sy"

    /// Ed25519 public key.
    static let ed25519PEM = """
        -----BEGIN PUBLIC KEY-----
        MCowBQYDK2VwAyEAG67Ktw3cXPA0hLVOASl3NSASOHOransUnxcKDbTGyS0=
        -----END PUBLIC KEY-----
        """

    /// EdDSA (Ed25519) of the same payload.
    static let eddsa =
        "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.FJ4vHPAij1eERLGnoiWXd610MXNnQpP4q7ZGjfKrmmKy6CKdgDjvcJM3zoVcJBzajayS4NsZWSp6rKRneMoiAw"
}

# A receiver's verifier of the default scheme (sha256=<hex HMAC-SHA256 of
# the raw body>, compared in constant time), kept as receivers write it,
# plus a driver: argv[1] is a JSON file of
# [{"body": <base64>, "signature": <header>}], argv[2] the secret.
import base64, json, sys
import hashlib, hmac
def verify_momentum_signature(raw_body: bytes, signature_header: str, secret: str) -> bool:
    if not signature_header:
        return False
    expected = "sha256=" + hmac.new(
        secret.encode("utf-8"), raw_body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature_header, expected)

cases = json.load(open(sys.argv[1]))
ok = sum(verify_momentum_signature(base64.b64decode(c["body"]), c["signature"], sys.argv[2]) for c in cases)
print(f"verified {ok} of {len(cases)}")
sys.exit(0 if ok == len(cases) else 1)

"""Credentials in logged URLs are replaced before anything is stored (DESIGN.md principle 5).

The rule is on the *name* of a parameter (of a query string, of `;`-separated parameters in a
query or a path segment, of a fragment). The name is percent-decoded, split into words at every
character that is not a letter or a digit and at camelCase boundaries (`X-Amz-Signature` ->
x amz signature, `accessToken` -> access token, `token[]` -> token), and lower-cased. It names
a credential when:

- one of its words is a credential word (`CREDENTIAL_WORDS`: token, secret, signature, sig,
  credential, password, passwd, pwd, session, auth, key, jwt, ... and their plurals);
- or a word ends with one written as one word (`CREDENTIAL_ENDINGS`: accesstoken,
  clientsecret, apikey, phpsessid, ...);
- or the whole name is one of `CREDENTIAL_NAMES` (`code` of OAuth, `sid`, `pass`), which as a
  word of a longer name are harmless (`error_code`, `passenger`).

Words, not substrings: `keyword`, `author`, `monkey`, `tokenizer` and `sessions_count` are
kept. The value is replaced by `[redacted]`, the name is kept. A value that is itself a URL
(`next=https://…?code=…`) is replaced when it holds a credential. Userinfo (`user:pw@`) of a
URL with any scheme, in any case, is replaced too.
"""

import re
from functools import lru_cache
from urllib.parse import unquote_plus

REDACTED = "[redacted]"

CREDENTIAL_WORDS = frozenset(
    {
        "token",
        "tokens",
        "secret",
        "secrets",
        "signature",
        "signatures",
        "sig",
        "credential",
        "credentials",
        "creds",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "session",
        "sessionid",
        "auth",
        "authorization",
        "key",
        "keys",
        "apikey",
        "jwt",
        "bearer",
        "otp",
        "verifier",
        "assertion",
    }
)
CREDENTIAL_ENDINGS = (
    "token",
    "tokens",
    "secret",
    "signature",
    "password",
    "passwd",
    "credential",
    "credentials",
    "sessionid",
    "sessid",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "signingkey",
)
CREDENTIAL_NAMES = frozenset({"code", "sid", "pass"})
# Headers whose value is a URL: its query, `;` parameters, fragment and userinfo are redacted.
URL_HEADERS = frozenset({"location", "content-location", "referer", "referrer"})

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_PARAM_SEPARATORS = re.compile(r"([&;])")
# The userinfo of `scheme://userinfo@host` (any scheme, any case): matched from the `//` only,
# so that the scan stays linear in the text's length.
_USERINFO = re.compile(r"//[^/?#@\s]*@")
# `;name=value` inside a path segment (`/cart;jsessionid=…/items`).
_USERINFO_REDACTED = f"//{REDACTED}@"
_PATH_PARAM = re.compile(r";([^;/?#=]*)=([^;/?#]*)")


@lru_cache(maxsize=4096)
def is_credential_name(name: str) -> bool:
    """True when a parameter name names a credential (the rule in this module's docstring)."""
    if "%" in name or "+" in name:
        name = unquote_plus(name)
    name = name.strip()
    if name.lower() in CREDENTIAL_NAMES:
        return True
    for word in _WORDS.findall(name):
        word = word.lower()
        if word in CREDENTIAL_WORDS or word.endswith(CREDENTIAL_ENDINGS):
            return True
    return False


def _hides_credential(value: str) -> bool:
    """True when a parameter's value is a URL (or parameters) that carries a credential; one
    level deep, so that a hostile value cannot make the check recurse."""
    if "%" in value or "+" in value:
        value = unquote_plus(value)
    return redact_url(value, nested=False) != value


def redact_params(text: str, nested: bool = True) -> str:
    """`a=1&token=x;sig=y` -> `a=1&token=[redacted];sig=[redacted]`; separators are kept.
    With `nested`, a value that is a URL carrying a credential is redacted too."""
    pieces = _PARAM_SEPARATORS.split(text)
    changed = False
    for index in range(0, len(pieces), 2):
        name, sep, value = pieces[index].partition("=")
        if not sep or value == REDACTED:
            continue
        if is_credential_name(name) or (
            nested and ("=" in value or "@" in value or "%" in value) and _hides_credential(value)
        ):
            pieces[index] = f"{name}={REDACTED}"
            changed = True
    return "".join(pieces) if changed else text


def redact_userinfo(text: str) -> str:
    """`HTTPS://user:pw@host/` -> `HTTPS://[redacted]@host/`, wherever a URL appears."""
    if "@" not in text:
        return text
    return _USERINFO.sub(_USERINFO_REDACTED, text)


def redact_path(path: str) -> str:
    """A request path with its `;name=value` credentials and any URL's userinfo redacted."""
    if ";" in path:
        path = _PATH_PARAM.sub(_path_param, path)
    return redact_userinfo(path)


def _path_param(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    if value != REDACTED and is_credential_name(name):
        return f";{name}={REDACTED}"
    return match.group(0)


def redact_url(url: str, nested: bool = True) -> str:
    """A URL (absolute or a path) with credentials in its userinfo, path parameters, query and
    fragment redacted."""
    rest, hash_sign, fragment = url.partition("#")
    rest, question, query = rest.partition("?")
    out = redact_path(rest)
    if question:
        out += "?" + redact_params(query, nested)
    if hash_sign:
        out += "#" + redact_params(fragment, nested)
    return out

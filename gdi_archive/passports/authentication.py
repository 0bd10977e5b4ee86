"""The clearinghouse as a DRF authentication class, used by every API view.

On a valid bearer token: (user, Grants). No Authorization header (or another scheme, left to
the next class): None. A bad token: AuthenticationFailed, 401, with a reason that reveals
nothing about the token; the full reason is logged, the token never is.
"""

import logging

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from gdi_archive.common.clients import client_address

from .clearinghouse import authenticate_token
from .verify import MAX_TOKEN_LENGTH, Refused

log = logging.getLogger("gdi_archive.passports.clearinghouse")


class PassportAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request)
        if not header:
            return None
        scheme, _, rest = header.partition(b" ")
        if scheme.lower() != self.keyword:
            return None
        if len(rest) > MAX_TOKEN_LENGTH + 16:
            log.warning("token refused: token is too large (%d bytes)", len(rest))
            raise AuthenticationFailed("The token is too large.")
        try:
            token = rest.decode("ascii").strip()
        except UnicodeDecodeError:
            log.warning("token refused: not ASCII")
            raise AuthenticationFailed("The token is not valid.") from None
        if not token or " " in token:
            raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            return authenticate_token(token)
        except Refused as exc:
            log.warning("token refused: %s (client %s)", exc, client_address(request))
            raise AuthenticationFailed("The token is not valid, has expired or was revoked.") from None

    def authenticate_header(self, request):
        return 'Bearer realm="gdi-archive"'

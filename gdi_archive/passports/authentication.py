"""The clearinghouse as a DRF authentication class (to be filled in by the passports work).

Contract: on a valid bearer token, return (user, Grants); on no Authorization header, None;
on a bad token, raise AuthenticationFailed (401).
"""

from rest_framework.authentication import BaseAuthentication


class PassportAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="gdi-archive"'

/// The status and `WWW-Authenticate` of a denial on the forward-auth endpoint, where
/// `authz.deny_status: 401` turns every token failure into 401 (403 and 503 are kept).
extension Denial {
    public func status(in format: ErrorFormat, denyStatus: ForwardAuthDenyStatus) -> Int {
        let status = status(in: format)
        guard denyStatus == .unauthorized, isTokenFailure, status != 403 else { return status }
        return 401
    }

    public func wwwAuthenticate(in format: ErrorFormat, denyStatus: ForwardAuthDenyStatus) -> String? {
        let unchanged = status(in: format)
        guard status(in: format, denyStatus: denyStatus) == 401, unchanged != 401 else {
            return wwwAuthenticate(in: format)
        }
        // A 422 made 401: the header a 401 of `errors.format: authx` carries.
        return self == .missingToken ? "Bearer" : #"Bearer error="invalid_token""#
    }
}

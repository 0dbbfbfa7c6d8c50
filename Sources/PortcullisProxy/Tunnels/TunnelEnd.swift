/// Why a tunnel ended: a closed set, used as the `reason` label of `portcullis_tunnels_closed_total`.
enum TunnelEnd: String, CaseIterable, Sendable {
    /// The client closed its connection.
    case client
    /// The upstream closed its connection.
    case upstream
    /// A recheck found the token revoked.
    case revoked
    /// The token's `exp` (plus the leeway) passed.
    case expired
    /// A recheck refused the token otherwise: its key is gone, or the store could not answer
    /// under `revocation.fail_mode: closed`.
    case rejected
    /// Closed by a graceful shutdown.
    case drain
}

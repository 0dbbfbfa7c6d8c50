/// The operators' console under `/ui/` on the admin listener. Without one, `/ui/` answers 404.
/// The page needs no token; every call it makes is an ordinary `/v1/` call, roles applying.
public protocol ConsolePage: Sendable {
    /// The answer for `GET /ui/<path>` (`path` is "" for the page itself), or nil for 404.
    func answer(path: String) -> AdminResponse?
}

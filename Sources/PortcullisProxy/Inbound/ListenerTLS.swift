import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The TLS context of an HTTPS listener. New connections take the context in force when they
/// are accepted; a reload swaps in one built from the files read again, so a rotated
/// certificate reaches new connections while open ones keep theirs.
public final class ListenerTLS: Sendable {
    private let current: NIOLockedValueBox<NIOSSLContext>

    /// Reads the PEM certificate chain and key; throws a description naming what failed.
    public init(certificateFile: String, keyFile: String) throws {
        current = NIOLockedValueBox(try Self.context(certificateFile: certificateFile, keyFile: keyFile))
    }

    public var context: NIOSSLContext { current.withLockedValue { $0 } }

    /// Reads the files again; on failure the context in force stays and the error says why.
    public func reload(certificateFile: String, keyFile: String) throws {
        let context = try Self.context(certificateFile: certificateFile, keyFile: keyFile)
        current.withLockedValue { $0 = context }
    }

    static func context(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ListenerTLSError("\(certificateFile): not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ListenerTLSError("\(certificateFile): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ListenerTLSError("\(keyFile): not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ListenerTLSError("\(certificateFile) and \(keyFile) do not make a TLS context (\(error)); "
                                   + "does the key belong to the certificate?")
        }
    }

    /// A client context for an `https://` upstream: the certificate is always verified, against
    /// `caFile` when given, else the system trust store.
    public static func upstreamContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .file(caFile) }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ListenerTLSError("\(caFile ?? "the system trust store"): \(error)")
        }
    }
}

public struct ListenerTLSError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A set of algorithms as one bit each: membership on the request path
/// costs a mask instead of hashing into a `Set`.
package struct AlgorithmSet: OptionSet, Sendable, Hashable {
    package var rawValue: UInt16

    package init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    package init(_ algorithm: JWTAlgorithm) {
        self.rawValue = 1 << algorithm.bitIndex
    }

    package init(_ algorithms: some Sequence<JWTAlgorithm>) {
        self.rawValue = 0
        for algorithm in algorithms { insert(AlgorithmSet(algorithm)) }
    }

    package func contains(_ algorithm: JWTAlgorithm) -> Bool {
        rawValue & 1 << algorithm.bitIndex != 0
    }

    package static let hmac: AlgorithmSet = [AlgorithmSet(.HS256), AlgorithmSet(.HS384), AlgorithmSet(.HS512)]
    package static let rsa: AlgorithmSet = [
        AlgorithmSet(.RS256), AlgorithmSet(.RS384), AlgorithmSet(.RS512),
        AlgorithmSet(.PS256), AlgorithmSet(.PS384), AlgorithmSet(.PS512),
    ]

    /// Members in `JWTAlgorithm.allCases` order, for messages.
    package var algorithms: [JWTAlgorithm] { JWTAlgorithm.allCases.filter { contains($0) } }

    package var names: String { algorithms.map(\.rawValue).joined(separator: ", ") }
}

extension JWTAlgorithm {
    fileprivate var bitIndex: UInt16 {
        switch self {
        case .HS256: 0
        case .HS384: 1
        case .HS512: 2
        case .RS256: 3
        case .RS384: 4
        case .RS512: 5
        case .PS256: 6
        case .PS384: 7
        case .PS512: 8
        case .ES256: 9
        case .ES384: 10
        case .ES512: 11
        case .EdDSA: 12
        }
    }

    /// The algorithm whose JWS name is exactly `bytes` (case-sensitive, RFC 7518 §3.1).
    package init?(jwsName bytes: UnsafeRawBufferPointer) {
        guard let packed = PackedName.pack(bytes) else { return nil }
        for (name, algorithm) in algorithmsByPackedName where name == packed {
            self = algorithm
            return
        }
        return nil
    }
}

/// Every supported name is at most 7 bytes, so one integer compare per candidate.
private let algorithmsByPackedName: [(UInt64, JWTAlgorithm)] = JWTAlgorithm.allCases.compactMap { algorithm in
    PackedName.pack(algorithm.rawValue).map { ($0, algorithm) }
}

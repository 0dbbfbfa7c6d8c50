import Foundation
import PortcullisCore

// The JSON bodies of INTERFACE §4, as Codable values. Requests are decoded strictly: an
// unknown member, a wrong type or a boolean where a number belongs is a 400 naming the field.

// MARK: Requests

/// `POST /v1/revocations`: a jti (with `expires_at`), or a whole token; either with a reason.
struct RevocationRequest: Decodable {
    var jti: String?
    var expiresAt: Double?
    var token: String?
    var reason: String?

    init(from decoder: Decoder) throws {
        let fields = try BodyFields(decoder, allowed: ["jti", "expires_at", "token", "reason"])
        reason = try fields.string("reason", maxLength: 1024)
        token = try fields.string("token", maxLength: 16384)
        jti = try fields.string("jti", maxLength: 1024)
        expiresAt = try fields.unixTime("expires_at")
    }
}

/// `POST /v1/subjects/{sub}/revocations`: the body is optional.
struct SubjectRevocationRequest: Decodable {
    var reason: String?

    init(from decoder: Decoder) throws {
        let fields = try BodyFields(decoder, allowed: ["reason"])
        reason = try fields.string("reason", maxLength: 1024)
    }
}

enum AdminBody {
    /// Decodes a request body; every failure is an `AdminError.badRequest` naming the field,
    /// or `body` when it is not a JSON object at all.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(AdminError) -> T {
        guard !bytes.isEmpty else { throw .badRequest("body: a JSON object is required") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as AdminError {
            throw error
        } catch {
            throw .badRequest("body: not a JSON object")
        }
    }
}

struct FieldKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A request object's members, checked one by one. A member that is `null` counts as absent.
struct BodyFields {
    private let container: KeyedDecodingContainer<FieldKey>

    init(_ decoder: Decoder, allowed: Set<String>) throws(AdminError) {
        do {
            container = try decoder.container(keyedBy: FieldKey.self)
        } catch {
            throw .badRequest("body: not a JSON object")
        }
        for key in container.allKeys.map(\.stringValue).sorted() where !allowed.contains(key) {
            throw .badRequest("\(key): unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ name: String, maxLength: Int) throws(AdminError) -> String? {
        let value: String?
        do {
            value = try container.decodeIfPresent(String.self, forKey: FieldKey(name))
        } catch {
            throw .badRequest("\(name): must be a string")
        }
        if let value, value.utf8.count > maxLength { throw .badRequest("\(name): longer than \(maxLength) bytes") }
        return value
    }

    /// A Unix time in seconds, positive; a boolean is not a number here.
    func unixTime(_ name: String) throws(AdminError) -> Double? {
        let key = FieldKey(name)
        let problem = AdminError.badRequest("\(name): must be a positive Unix time in seconds")
        if (try? container.decodeIfPresent(Bool.self, forKey: key)) != nil { throw problem }
        let value: Double?
        do {
            value = try container.decodeIfPresent(Double.self, forKey: key)
        } catch {
            throw problem
        }
        if let value, !(value.isFinite && value > 0) { throw problem }
        return value
    }
}

// MARK: Answers

/// A Unix time as the API writes it: an integer when whole (so `expires_at` reads back as it
/// was sent), else with its fraction.
struct UnixTime: Encodable, Equatable {
    var seconds: Double

    init(_ seconds: Double) { self.seconds = seconds }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if seconds == seconds.rounded(), abs(seconds) < 1e15 {
            try container.encode(Int64(seconds))
        } else {
            try container.encode(seconds)
        }
    }
}

/// 201 to `POST /v1/revocations`; `jti` is null for a raw token revoked without one.
struct RevocationCreated: Encodable {
    var jti: String?
    var expiresAt: UnixTime
    var ttlSeconds: Int

    enum CodingKeys: String, CodingKey {
        case jti, expiresAt = "expires_at", ttlSeconds = "ttl_seconds"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jti, forKey: .jti)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(ttlSeconds, forKey: .ttlSeconds)
    }
}

/// 200 or 404 to `GET /v1/revocations/{jti}`; `reason` only when one was given.
struct RevocationStatus: Encodable {
    var jti: String
    var revoked: Bool
    var ttlSeconds: Int?
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case jti, revoked, ttlSeconds = "ttl_seconds", reason
    }
}

/// A page of a listing (`GET /v1/revocations`, `GET /v1/audit`): `next_cursor` is always
/// present, null on the last page.
struct ListingPage<Item: Encodable>: Encodable {
    var items: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case items, nextCursor = "next_cursor"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// 200 to `GET /v1/revocations`.
enum RevocationListing {
    struct Item: Encodable {
        var jti: String
        var ttlSeconds: Int

        enum CodingKeys: String, CodingKey {
            case jti, ttlSeconds = "ttl_seconds"
        }
    }

    static func page(_ items: [Item], nextCursor: String?) -> ListingPage<Item> {
        ListingPage(items: items, nextCursor: nextCursor)
    }
}

/// 201 to `POST /v1/subjects/{sub}/revocations`.
struct SubjectRevoked: Encodable {
    var sub: String
    var revokedBefore: Int64

    enum CodingKeys: String, CodingKey {
        case sub, revokedBefore = "revoked_before"
    }
}

/// 200 to `GET /v1/audit`: every member of an entry is present, `reason` and `peer` may be null.
enum AuditListing {
    struct Item: Encodable {
        var entry: AuditEntry

        enum CodingKeys: String, CodingKey {
            case time, actor, action, target, reason, peer
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(UnixTime(entry.time), forKey: .time)
            try container.encode(entry.actor, forKey: .actor)
            try container.encode(entry.action.rawValue, forKey: .action)
            try container.encode(entry.target, forKey: .target)
            try container.encode(entry.reason, forKey: .reason)
            try container.encode(entry.peer, forKey: .peer)
        }
    }

    static func page(_ items: [Item], nextCursor: String?) -> ListingPage<Item> {
        ListingPage(items: items, nextCursor: nextCursor)
    }
}

/// `GET /healthz` and `GET /readyz`.
struct ProbeStatus: Encodable {
    var status: String
    var message: String?
}

/// Redis Cluster's key → hash slot function: CRC16 (XMODEM) of the key, or of its hash tag
/// (the part between the first `{` and the first `}` after it, when not empty), modulo 16384.
enum RedisClusterSlots {
    static let count = 16384

    static func slot(of key: String) -> Int {
        var bytes = Array(key.utf8)
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            bytes = Array(bytes[(open + 1)..<close])
        }
        return Int(crc16(bytes) % UInt16(count))
    }

    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}

/// Which master serves each slot, as read from `CLUSTER SHARDS` (or `CLUSTER SLOTS`).
struct RedisSlotMap: Sendable, Equatable {
    /// Index into `masters` per slot; -1 for a slot no master serves.
    var owners: [Int16]
    /// Sorted, so that a listing's cursor names the same node across pages.
    var masters: [RedisAddress]

    static let empty = RedisSlotMap(owners: Array(repeating: -1, count: RedisClusterSlots.count), masters: [])

    init(owners: [Int16], masters: [RedisAddress]) {
        self.owners = owners
        self.masters = masters
    }

    /// From `(first slot, last slot, master)` ranges.
    init(ranges: [(ClosedRange<Int>, RedisAddress)]) {
        let masters = Array(Set(ranges.map(\.1))).sorted { ($0.host, $0.port) < ($1.host, $1.port) }
        var owners = Array(repeating: Int16(-1), count: RedisClusterSlots.count)
        for (range, master) in ranges {
            guard let index = masters.firstIndex(of: master) else { continue }
            for slot in range where slot >= 0 && slot < RedisClusterSlots.count { owners[slot] = Int16(index) }
        }
        self.init(owners: owners, masters: masters)
    }

    func master(of slot: Int) -> RedisAddress? {
        let index = Int(owners[slot])
        return index >= 0 && index < masters.count ? masters[index] : nil
    }

    /// After a `MOVED`: that slot is served by `address` from now on.
    mutating func move(_ slot: Int, to address: RedisAddress) {
        if let index = masters.firstIndex(of: address) {
            owners[slot] = Int16(index)
        } else {
            masters.append(address)
            owners[slot] = Int16(masters.count - 1)
        }
    }

    /// `CLUSTER SLOTS`: `[[first, last, [ip, port, id], replicas...], ...]`.
    static func parse(slots reply: RedisReply) -> RedisSlotMap? {
        guard case .array(let entries) = reply else { return nil }
        var ranges: [(ClosedRange<Int>, RedisAddress)] = []
        for entry in entries {
            guard case .array(let parts) = entry, parts.count >= 3,
                  case .integer(let first) = parts[0], case .integer(let last) = parts[1], first <= last,
                  case .array(let node) = parts[2], node.count >= 2, let host = node[0].text,
                  case .integer(let port) = node[1]
            else { return nil }
            ranges.append((Int(first)...Int(last), RedisAddress(host: host, port: Int(port))))
        }
        return ranges.isEmpty ? nil : RedisSlotMap(ranges: ranges)
    }

    /// `CLUSTER SHARDS` (Redis 7): `[["slots", [first, last, ...], "nodes", [[name, value, ...], ...]], ...]`.
    static func parse(shards reply: RedisReply) -> RedisSlotMap? {
        guard case .array(let shards) = reply else { return nil }
        var ranges: [(ClosedRange<Int>, RedisAddress)] = []
        for shard in shards {
            guard case .array(let fields) = shard else { return nil }
            let shardFields = pairs(fields)
            guard case .array(let slotBounds)? = shardFields["slots"], case .array(let nodes)? = shardFields["nodes"] else {
                return nil
            }
            var master: RedisAddress?
            for node in nodes {
                guard case .array(let nodeFields) = node else { continue }
                let fields = pairs(nodeFields)
                guard fields["role"]?.text == "master", fields["health"]?.text != "fail",
                      let host = fields["ip"]?.text ?? fields["endpoint"]?.text else { continue }
                let port: Int64? = if case .integer(let p)? = fields["port"] { p } else if case .integer(let p)? = fields["tls-port"] { p } else { nil }
                if let port { master = RedisAddress(host: host, port: Int(port)) }
            }
            guard let master else { continue }
            var index = 0
            while index + 1 < slotBounds.count {
                guard case .integer(let first) = slotBounds[index], case .integer(let last) = slotBounds[index + 1],
                      first <= last else { return nil }
                ranges.append((Int(first)...Int(last), master))
                index += 2
            }
        }
        return ranges.isEmpty ? nil : RedisSlotMap(ranges: ranges)
    }

    private static func pairs(_ flat: [RedisReply]) -> [String: RedisReply] {
        var result: [String: RedisReply] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].text { result[name] = flat[index + 1] }
            index += 2
        }
        return result
    }
}

/// A redirection in a cluster reply: `MOVED 3999 127.0.0.1:6381`, `ASK 3999 127.0.0.1:6381`.
enum RedisRedirect: Equatable {
    case moved(slot: Int, to: RedisAddress)
    case ask(slot: Int, to: RedisAddress)
    case tryAgain

    init?(_ reply: RedisReply) {
        guard case .error(let message) = reply else { return nil }
        if message.hasPrefix("TRYAGAIN") {
            self = .tryAgain
            return
        }
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), let colon = words[2].lastIndex(of: ":"),
              let port = Int(words[2][words[2].index(after: colon)...]) else { return nil }
        var host = String(words[2][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address = RedisAddress(host: host, port: port)
        switch words[0] {
        case "MOVED": self = .moved(slot: slot, to: address)
        case "ASK": self = .ask(slot: slot, to: address)
        default: return nil
        }
    }
}

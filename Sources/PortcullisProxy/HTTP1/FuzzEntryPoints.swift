/// Entry points for the libFuzzer target in FuzzTesting/ (FuzzHTTP1) and for its regression
/// test: the wire parsers are internal, so these run them over arbitrary bytes the way the
/// connection does, and trap when an accepted result breaks an invariant the relay relies on.
/// Nothing in the proxy calls them.
public enum HTTP1Fuzzing {
    /// The first byte chooses what the rest is: 0 the bytes a client sends (request heads,
    /// pipelined), 1 an upstream's bytes for a GET (response head, then its body), 2 the same for
    /// a HEAD, 3 a chunked body on its own, cut in two at the position given by the second byte.
    public static func run(_ data: UnsafeRawBufferPointer) {
        guard let selector = data.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: data.dropFirst())
        switch selector % 4 {
        case 0: requestHeads(rest)
        case 1: response(rest, requestIsHead: false)
        case 2: response(rest, requestIsHead: true)
        default:
            guard let cut = rest.first else { return }
            chunkedBody(UnsafeRawBufferPointer(rebasing: rest.dropFirst()), cut: Int(cut))
        }
    }

    /// Request heads one after another, as startRequest finds them: empty lines skipped, the head
    /// up to the first CRLF CRLF, then the parser. A refusal ends the connection.
    public static func requestHeads(_ bytes: UnsafeRawBufferPointer) {
        let parser = RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 8192))
        var fields: [HeaderField] = []
        var start = 0
        while start < bytes.count {
            while start < bytes.count, bytes[start] == HTTPBytes.cr || bytes[start] == HTTPBytes.lf { start += 1 }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            guard let end = HTTPBytes.headEnd(in: rest) else { return }
            let raw = UnsafeRawBufferPointer(rebasing: rest[..<end])
            let head: RequestHead
            do throws(RequestHeadError) {
                head = try parser.parse(raw, fields: &fields)
            } catch {
                return
            }
            check(raw, head)
            fields = head.fields
            start += end
        }
    }

    /// A response head found and parsed as the upstream side does, then its body framed: a
    /// chunked body through the scanner, all at once and byte by byte, which must agree.
    public static func response(_ bytes: UnsafeRawBufferPointer, requestIsHead: Bool) {
        guard let end = HTTPBytes.headEnd(in: bytes) else { return }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[..<end])
        var fields: [HeaderField] = []
        let head: ResponseHead
        do throws(ResponseHeadError) {
            head = try ResponseHeadParser(maxFields: 256).parse(raw, requestIsHead: requestIsHead, fields: &fields)
        } catch {
            return
        }
        require(head.length == end && (100...999).contains(head.status) && head.minorVersion <= 1, "response head")
        require(head.reason.lowerBound >= 0 && head.reason.upperBound <= end, "reason range")
        checkFields(raw, head.fields)
        if requestIsHead || head.status < 200 || head.status == 204 || head.status == 304 {
            require(head.framing == .none, "bodiless response framed")
        }
        if case .length(let length) = head.framing { require(length >= 0, "negative length") }
        if head.framing == .untilClose { require(!head.keepAlive, "close-delimited body kept alive") }
        if head.framing == .chunked {
            chunkedBody(UnsafeRawBufferPointer(rebasing: bytes[end...]), cut: bytes.count > end ? Int(bytes[end]) : 0)
        }
    }

    /// A chunked body through the scanner three ways, which must agree on where it ends (or that
    /// it is malformed): in one call, cut in two at `cut`, and one byte at a time. The data ranges
    /// reported must lie inside the bytes given, in order, and never overlap the framing.
    public static func chunkedBody(_ bytes: UnsafeRawBufferPointer, cut: Int) {
        var whole = ChunkedBodyScanner()
        var dataBytes = 0
        var lastEnd = 0
        let once = whole.scan(bytes) { range in
            require(range.lowerBound >= lastEnd && range.upperBound <= bytes.count && !range.isEmpty, "data range")
            lastEnd = range.upperBound
            dataBytes += range.count
        }
        let cut = bytes.isEmpty ? 0 : cut % (bytes.count + 1)
        var split = ChunkedBodyScanner()
        var splitData = 0
        var twice = split.scan(UnsafeRawBufferPointer(rebasing: bytes[..<cut])) { splitData += $0.count }
        if twice == .needMore {
            switch split.scan(UnsafeRawBufferPointer(rebasing: bytes[cut...]), onData: { splitData += $0.count }) {
            case .complete(let n): twice = .complete(cut + n)
            case let other: twice = other
            }
        }
        var single = ChunkedBodyScanner()
        var singleData = 0
        var bytewise = ChunkedBodyScanner.Result.needMore
        for index in 0..<bytes.count {
            switch single.scan(UnsafeRawBufferPointer(rebasing: bytes[index..<index + 1]), onData: { singleData += $0.count }) {
            case .needMore: continue
            case .complete(let n): bytewise = .complete(index + n)
            case let other: bytewise = other
            }
            break
        }
        require(sameEnd(once, twice) && sameEnd(once, bytewise), "chunked scan depends on how the body is cut: \(once) \(twice) \(bytewise)")
        if case .complete = once {
            require(whole.isComplete && dataBytes == splitData && dataBytes == singleData, "chunked data differs by cut")
        }
    }

    private static func sameEnd(_ a: ChunkedBodyScanner.Result, _ b: ChunkedBodyScanner.Result) -> Bool {
        switch (a, b) {
        case (.needMore, .needMore), (.malformed, .malformed): true
        case (.complete(let x), .complete(let y)): x == y
        default: false
        }
    }

    /// What the relay assumes of an accepted request head: every range inside the head, nothing
    /// that could end a line or a field inside a kept part, framing that agrees with the fields.
    private static func check(_ raw: UnsafeRawBufferPointer, _ head: RequestHead) {
        require(head.length == raw.count && head.fieldsStart <= raw.count, "head length")
        require(!head.method.isEmpty && head.method.allSatisfy { HTTPBytes.isToken(raw[$0]) }, "method bytes")
        require(!head.target.isEmpty && head.target.upperBound <= head.fieldsStart, "target range")
        require(head.target.allSatisfy { raw[$0] > 0x20 && raw[$0] != 0x7F }, "target bytes")
        require(head.minorVersion == 0 || head.minorVersion == 1, "version")
        checkFields(raw, head.fields)
        var hosts = 0
        var lengths = 0
        var codings = 0
        for field in head.fields {
            if HTTPBytes.equalsIgnoringCase(raw, field.name, "host") { hosts += 1 }
            if HTTPBytes.equalsIgnoringCase(raw, field.name, "content-length") { lengths += 1 }
            if HTTPBytes.equalsIgnoringCase(raw, field.name, "transfer-encoding") { codings += 1 }
        }
        require(hosts <= 1 && (hosts == 1 || head.minorVersion == 0), "Host count")
        require(lengths <= 1 && !(lengths == 1 && codings > 0), "ambiguous framing accepted")
        switch head.framing {
        case .chunked: require(codings > 0, "chunked without Transfer-Encoding")
        case .length(let length): require(length > 0 && lengths == 1, "length framing")
        case .none: require(codings == 0, "Transfer-Encoding without chunked framing")
        }
        if let host = head.host { require(HTTPBytes.equalsIgnoringCase(raw, head.fields[host].name, "host"), "host index") }
    }

    private static func checkFields(_ raw: UnsafeRawBufferPointer, _ fields: [HeaderField]) {
        var previous = 0
        for field in fields {
            require(field.line.lowerBound >= previous && field.line.upperBound <= raw.count - 2, "field line range")
            require(field.name.lowerBound == field.line.lowerBound && !field.name.isEmpty, "field name range")
            require(field.value.lowerBound > field.name.upperBound && field.value.upperBound <= field.line.upperBound - 2,
                    "field value range")
            require(raw[field.name.upperBound] == HTTPBytes.colon, "colon")
            require(field.name.allSatisfy { HTTPBytes.isToken(raw[$0]) }, "field name bytes")
            require(field.value.allSatisfy { HTTPBytes.isFieldValue(raw[$0]) }, "field value bytes")
            if let first = field.value.first, let last = field.value.last {
                require(raw[first] != HTTPBytes.sp && raw[first] != HTTPBytes.htab
                        && raw[last] != HTTPBytes.sp && raw[last] != HTTPBytes.htab, "value not trimmed")
            }
            require(raw[field.line.upperBound - 2] == HTTPBytes.cr && raw[field.line.upperBound - 1] == HTTPBytes.lf, "line end")
            previous = field.line.upperBound
        }
    }

    @inline(__always)
    private static func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
        if !condition() { fatalError("HTTP/1 wire invariant broken: \(what())") }
    }
}

/// One header field of a parsed head, as byte offsets into the head. The value is trimmed of
/// surrounding whitespace; `line` covers the whole field line including its CRLF, so a kept
/// field can be copied as it arrived.
struct HeaderField: Equatable {
    var name: Range<Int>
    var value: Range<Int>
    var line: Range<Int>
    /// Not forwarded: a hop-by-hop field (RFC 9110 §7.6.1) or one named by `Connection`.
    var isHopByHop = false
}

/// Splits the field lines of a head (after its start line) and checks each by RFC 9112 §5:
/// a token name, no whitespace before the colon, no obs-fold, values of field-vchar, SP and
/// HTAB only, every line ended by CRLF.
enum HeaderFieldLines {
    enum Failure: Error, Equatable {
        case malformed(String)
        case tooMany
    }

    /// Parses the lines in `bytes[start..<end]`, where `end` is the offset just past the final
    /// empty line's CRLF.
    static func parse(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, maxFields: Int,
                      into fields: inout [HeaderField]) throws(Failure) {
        var position = start
        let last = end - 2  // the empty line's CR
        while position < last {
            let lineStart = position
            let first = bytes[position]
            if first == HTTPBytes.sp || first == HTTPBytes.htab { throw .malformed("obsolete line folding") }
            while position < last, HTTPBytes.isToken(bytes[position]) { position += 1 }
            guard position < last, bytes[position] == HTTPBytes.colon else {
                if position < last, bytes[position] == HTTPBytes.sp || bytes[position] == HTTPBytes.htab {
                    throw .malformed("whitespace before a field's colon")
                }
                throw .malformed(position == lineStart ? "empty field name" : "invalid byte in a field name")
            }
            guard position > lineStart else { throw .malformed("empty field name") }
            let name = lineStart..<position
            position += 1
            let valueStart = position
            while position < last, HTTPBytes.isFieldValue(bytes[position]) { position += 1 }
            guard position + 1 < end, bytes[position] == HTTPBytes.cr, bytes[position + 1] == HTTPBytes.lf else {
                if bytes[position] == HTTPBytes.lf { throw .malformed("bare LF line ending") }
                if bytes[position] == HTTPBytes.cr { throw .malformed("CR not followed by LF") }
                throw .malformed(bytes[position] == 0 ? "NUL in a field value" : "control byte in a field value")
            }
            guard fields.count < maxFields else { throw .tooMany }
            fields.append(HeaderField(name: name, value: HTTPBytes.trimmed(bytes, valueStart..<position),
                                      line: lineStart..<position + 2))
            position += 2
        }
        guard position == last, bytes[last] == HTTPBytes.cr, bytes[last + 1] == HTTPBytes.lf else {
            throw .malformed("head does not end with CRLF CRLF")
        }
    }

    /// Marks the fields that are not forwarded: the fixed hop-by-hop names, and every name listed
    /// in a `Connection` field. `Transfer-Encoding` is not among them: the relay keeps the framing.
    static func markHopByHop(_ bytes: UnsafeRawBufferPointer, _ fields: inout [HeaderField], connectionNamesOthers: Bool) {
        for index in fields.indices where isFixedHopByHop(bytes, fields[index].name) {
            fields[index].isHopByHop = true
        }
        guard connectionNamesOthers else { return }
        for connection in fields where HTTPBytes.equalsIgnoringCase(bytes, connection.name, "connection") {
            HTTPBytes.forEachListElement(bytes, connection.value) { option in
                for index in fields.indices where !fields[index].isHopByHop
                    && equalsIgnoringCase(bytes, fields[index].name, bytes, option) {
                    fields[index].isHopByHop = true
                }
            }
        }
    }

    static func isFixedHopByHop(_ bytes: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        switch name.count {
        case 2: return HTTPBytes.equalsIgnoringCase(bytes, name, "te")
        case 7: return HTTPBytes.equalsIgnoringCase(bytes, name, "trailer")
            || HTTPBytes.equalsIgnoringCase(bytes, name, "upgrade")
        case 10: return HTTPBytes.equalsIgnoringCase(bytes, name, "connection")
            || HTTPBytes.equalsIgnoringCase(bytes, name, "keep-alive") || hasProxyPrefix(bytes, name)
        default: return hasProxyPrefix(bytes, name)
        }
    }

    private static func hasProxyPrefix(_ bytes: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        name.count > 6 && HTTPBytes.equalsIgnoringCase(bytes, name.lowerBound..<name.lowerBound + 6, "proxy-")
    }

    static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ ra: Range<Int>,
                                   _ b: UnsafeRawBufferPointer, _ rb: Range<Int>) -> Bool {
        guard ra.count == rb.count else { return false }
        var j = rb.lowerBound
        for i in ra {
            if HTTPBytes.lower(a[i]) != HTTPBytes.lower(b[j]) { return false }
            j += 1
        }
        return true
    }

    /// The `Connection` options that matter to framing, and whether it names other fields.
    struct ConnectionOptions {
        var close = false
        var keepAlive = false
        var upgrade = false
        var namesOthers = false
    }

    static func connectionOptions(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>, into options: inout ConnectionOptions) {
        HTTPBytes.forEachListElement(bytes, value) { option in
            if HTTPBytes.equalsIgnoringCase(bytes, option, "close") {
                options.close = true
            } else if HTTPBytes.equalsIgnoringCase(bytes, option, "keep-alive") {
                options.keepAlive = true
            } else if HTTPBytes.equalsIgnoringCase(bytes, option, "upgrade") {
                options.upgrade = true
            } else {
                options.namesOthers = true
            }
        }
    }
}

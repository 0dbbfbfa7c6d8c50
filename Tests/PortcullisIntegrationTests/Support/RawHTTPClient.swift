import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client over a plain socket, so tests control every byte on the wire
/// (pipelining, garbage, oversized heads, chunked uploads) and can stream huge bodies.
final class RawHTTPClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: Data
        /// The head as it arrived, status line to the last field, without the final CRLF CRLF.
        var rawHead: [UInt8] = []

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        func headerValues(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        }

        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    private let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 15) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw ClientError(description: "connect to \(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw ClientError(description: "send: \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }

    /// A request with the usual headers; `headers` may override Host.
    @discardableResult
    func request(_ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil) throws -> Response {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: test.local\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n"
        if let body { text += body }
        try send(text)
        return try readResponse(method: method)
    }

    /// Reads one response; the body goes to `onBody` in pieces when given, else into `body`.
    func readResponse(method: String = "GET", onBody: ((UnsafeRawBufferPointer) -> Void)? = nil) throws -> Response {
        let response = try readResponseHead()
        if response.status < 200 && response.status != 101 { return response }
        return try readBody(of: response, method: method, onBody: onBody)
    }

    /// Reads a response head only (a 101's bytes after it are the new protocol's).
    func readResponseHead() throws -> Response {
        let rawHead = try readHead()
        let headText = String(decoding: rawHead, as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw ClientError(description: "bad status line in \(headText)")
        }
        let headers: [(String, String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(status: status, headers: headers, body: Data(), rawHead: rawHead)
    }

    /// Reads the body of the response whose head `readResponseHead` returned.
    func readBody(of head: Response, method: String = "GET",
                  onBody: ((UnsafeRawBufferPointer) -> Void)? = nil) throws -> Response {
        var response = head
        let status = head.status
        var collected = Data()
        let sink: (UnsafeRawBufferPointer) -> Void = onBody ?? { collected.append(contentsOf: $0) }
        if method == "HEAD" || status == 204 || status == 304 {
            // no body
        } else if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            try readChunked(into: sink)
        } else if let length = response.header("content-length").flatMap(Int.init) {
            try readExactly(length, into: sink)
        } else {
            try readUntilClose(into: sink)
        }
        response.body = collected
        return response
    }

    /// True when the server closed the connection (a read returns end of file).
    func isClosedByPeer() -> Bool {
        if !pending.isEmpty { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        if n == 1 { pending.append(byte) }
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    /// True when bytes (or end of file) can be read within `milliseconds`; nothing is consumed.
    func waitReadable(milliseconds: Int32) -> Bool {
        if !pending.isEmpty { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// Exactly `count` bytes, waiting for them.
    func read(exactly count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        try readExactly(count) { bytes.append(contentsOf: $0) }
        return bytes
    }

    // MARK: Reading

    private func fill() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n < 0 { throw ClientError(description: "recv: \(String(cString: strerror(errno)))") }
        if n == 0 { return false }
        pending.append(contentsOf: buffer[0..<n])
        return true
    }

    private func readHead() throws -> [UInt8] {
        while true {
            if let end = findHeadEnd() {
                let head = Array(pending[0..<end])
                pending.removeFirst(end + 4)
                return head
            }
            guard try fill() else { throw ClientError(description: "connection closed before a response head") }
        }
    }

    private func findHeadEnd() -> Int? {
        guard pending.count >= 4 else { return nil }
        for i in 0...(pending.count - 4)
        where pending[i] == 13 && pending[i + 1] == 10 && pending[i + 2] == 13 && pending[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func readLine() throws -> String {
        while true {
            if let index = pending.firstIndex(of: 10), index > 0, pending[index - 1] == 13 {
                let line = String(decoding: pending[0..<(index - 1)], as: UTF8.self)
                pending.removeFirst(index + 1)
                return line
            }
            guard try fill() else { throw ClientError(description: "connection closed inside a chunked body") }
        }
    }

    private func readExactly(_ count: Int, into sink: (UnsafeRawBufferPointer) -> Void) throws {
        var remaining = count
        while remaining > 0 {
            if pending.isEmpty, try !fill() {
                throw ClientError(description: "connection closed with \(remaining) body bytes missing")
            }
            let take = min(remaining, pending.count)
            pending.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[0..<take])) }
            pending.removeFirst(take)
            remaining -= take
        }
    }

    private func readChunked(into sink: (UnsafeRawBufferPointer) -> Void) throws {
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                throw ClientError(description: "bad chunk size \(sizeLine)")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return
            }
            try readExactly(size, into: sink)
            _ = try readLine()
        }
    }

    private func readUntilClose(into sink: (UnsafeRawBufferPointer) -> Void) throws {
        while true {
            if !pending.isEmpty {
                pending.withUnsafeBytes { sink($0) }
                pending.removeAll(keepingCapacity: true)
            }
            guard try fill() else { return }
        }
    }
}

extension Data {
    var sha256Hex: String { SHA256.hash(data: self).map { String(format: "%02x", $0) }.joined() }
}

import Crypto
import Foundation

/// A blocking WebSocket client (RFC 6455) over `RawHTTPClient`'s socket: the opening
/// handshake, masked frames out, frames in. Small and strict, so every byte the proxy relays
/// is the test's own.
final class WebSocketTestClient {
    struct Frame: Equatable {
        var opcode: UInt8
        var payload: [UInt8]
        var text: String { String(decoding: payload, as: UTF8.self) }
    }

    let http: RawHTTPClient
    /// The handshake's answer (101, or the denial).
    let response: RawHTTPClient.Response
    private let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    var isOpen: Bool { response.status == 101 }

    init(port: Int, path: String = "/ws", headers: [(String, String)]) throws {
        http = try RawHTTPClient(port: port)
        var head = "GET \(path) HTTP/1.1\r\nHost: test.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try http.send(head + "\r\n")
        let answer = try http.readResponseHead()
        if answer.status == 101 {
            response = answer
        } else {
            response = try http.readBody(of: answer)
        }
    }

    /// What `Sec-WebSocket-Accept` must be for this client's key.
    var expectedAccept: String {
        let digest = Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Data(digest).base64EncodedString()
    }

    func send(text: String) throws { try send(opcode: 0x1, payload: Array(text.utf8)) }

    func send(opcode: UInt8, payload: [UInt8]) throws {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame.reserveCapacity(frame.count + payload.count)
        for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index & 3]) }
        try http.send(frame)
    }

    func readFrame() throws -> Frame {
        let start = try http.read(exactly: 2)
        var length = Int(start[1] & 0x7F)
        if length == 126 {
            length = try http.read(exactly: 2).reduce(0) { $0 << 8 | Int($1) }
        } else if length == 127 {
            length = try http.read(exactly: 8).reduce(0) { $0 << 8 | Int($1) }
        }
        return Frame(opcode: start[0] & 0x0F, payload: try http.read(exactly: length))
    }

    /// Sends `text` and reads the echo.
    func echo(_ text: String) throws -> String {
        try send(text: text)
        return try readFrame().text
    }

    /// Whether the connection is closed (end of file) within `milliseconds`. Anything that
    /// arrives first (a close frame) is read and skipped.
    func closes(within milliseconds: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        while true {
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            guard http.waitReadable(milliseconds: left) else { return false }
            if http.isClosedByPeer() { return true }
            guard (try? http.read(exactly: 1)) != nil else { return true }
        }
    }
}

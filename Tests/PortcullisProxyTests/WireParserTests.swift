import NIOCore
import XCTest
@testable import PortcullisProxy

final class WireParserTests: XCTestCase {
    private let parser = RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 8192))

    private func parse(_ text: String) throws -> (RequestHead, [UInt8]) {
        let bytes = Array(text.utf8)
        var fields: [HeaderField] = []
        let head = try bytes.withUnsafeBytes { raw in try parser.parse(raw, fields: &fields) }
        return (head, bytes)
    }

    private func refuses(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try parse(text)
            XCTFail("accepted \(text.debugDescription)", file: file, line: line)
        } catch {}
    }

    func testParsesRequestLineFieldsAndFraming() throws {
        let (head, bytes) = try parse("POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-A:  v v \r\n\r\n")
        XCTAssertEqual(String(decoding: bytes[head.method], as: UTF8.self), "POST")
        XCTAssertEqual(String(decoding: bytes[head.target], as: UTF8.self), "/a?b=1")
        XCTAssertEqual(head.minorVersion, 1)
        XCTAssertEqual(head.framing, .length(5))
        XCTAssertEqual(head.fields.count, 3)
        XCTAssertEqual(String(decoding: bytes[head.fields[2].value], as: UTF8.self), "v v")
        XCTAssertTrue(head.keepAlive)
        XCTAssertEqual(head.host, 0)
    }

    func testKeepAliveByVersionAndConnection() throws {
        XCTAssertFalse(try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").0.keepAlive)
        XCTAssertFalse(try parse("GET / HTTP/1.0\r\n\r\n").0.keepAlive)
        XCTAssertTrue(try parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").0.keepAlive)
    }

    func testMarksHopByHopAndConnectionNamedFields() throws {
        let (head, _) = try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nUpgrade: websocket\r\nProxy-Authorization: a\r\nTE: trailers\r\nX-Kept: 2\r\n\r\n")
        XCTAssertEqual(head.fields.map(\.isHopByHop), [false, true, true, true, true, true, true, false])
        XCTAssertTrue(head.upgrade)
    }

    func testRefusesSmugglingVectors() {
        refuses("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
        refuses("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
        refuses("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n")
        refuses("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n")
        refuses("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n")
        refuses("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n")
        refuses("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
        refuses("GET / HTTP/1.1\r\n\r\n")
        refuses("GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        refuses("GET  / HTTP/1.1\r\nHost: x\r\n\r\n")
        refuses("G(T / HTTP/1.1\r\nHost: x\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n")
        refuses("GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n")
    }

    func testKeepsObsTextAsBytes() throws {
        let bytes: [UInt8] = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8)
        var fields: [HeaderField] = []
        let head = try bytes.withUnsafeBytes { raw in try parser.parse(raw, fields: &fields) }
        XCTAssertEqual(Array(bytes[head.fields[1].value]), Array("caf".utf8) + [0xE9])
    }

    func testLimits() {
        let small = RequestHeadParser(limits: .init(maxFields: 2, maxTargetBytes: 4))
        var fields: [HeaderField] = []
        XCTAssertThrowsError(try Array("GET /abcd HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes {
            raw in try small.parse(raw, fields: &fields)
        }) { XCTAssertEqual($0 as? RequestHeadError, .uriTooLong) }
        XCTAssertThrowsError(try Array("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n".utf8).withUnsafeBytes {
            raw in try small.parse(raw, fields: &fields)
        }) { XCTAssertEqual($0 as? RequestHeadError, .tooLarge) }
    }

    func testHeadEnd() {
        let text = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest".utf8)
        XCTAssertEqual(text.withUnsafeBytes { HTTPBytes.headEnd(in: $0) }, text.count - 4)
        XCTAssertNil(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8).withUnsafeBytes { HTTPBytes.headEnd(in: $0) })
        XCTAssertNil(Array("GET / HTTP/1.1\n\n".utf8).withUnsafeBytes { HTTPBytes.headEnd(in: $0) })
    }

    // MARK: Responses

    private func response(_ text: String, head: Bool = false) throws -> ResponseHead {
        var fields: [HeaderField] = []
        return try Array(text.utf8).withUnsafeBytes { raw in
            try ResponseHeadParser(maxFields: 100).parse(raw, requestIsHead: head, fields: &fields)
        }
    }

    func testResponseFraming() throws {
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").framing, .length(3))
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").framing, .chunked)
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").framing, .untilClose)
        XCTAssertEqual(try response("HTTP/1.0 200 OK\r\n\r\n").framing, .untilClose)
        XCTAssertFalse(try response("HTTP/1.0 200 OK\r\n\r\n").keepAlive)
        XCTAssertEqual(try response("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n").framing, .none)
        XCTAssertEqual(try response("HTTP/1.1 304 Not Modified\r\n\r\n").framing, .none)
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", head: true).framing, .none)
        XCTAssertEqual(try response("HTTP/1.1 100 Continue\r\n\r\n").framing, .none)
        XCTAssertEqual(try response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status, 200)
        XCTAssertFalse(try response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive)
        XCTAssertThrowsError(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"))
        XCTAssertThrowsError(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"))
        XCTAssertThrowsError(try response("HTTP/1.1 2x0 OK\r\n\r\n"))
    }

    // MARK: Chunked bodies

    private func scan(_ chunks: [String]) -> [ChunkedBodyScanner.Result] {
        var scanner = ChunkedBodyScanner()
        return chunks.map { chunk in Array(chunk.utf8).withUnsafeBytes { scanner.scan($0) } }
    }

    func testChunkedAcrossReads() {
        XCTAssertEqual(scan(["5\r\nhel", "lo\r\n0\r\n", "\r\nNEXT"]), [.needMore, .needMore, .complete(2)])
        XCTAssertEqual(scan(["3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"]), [.complete(27)])
    }

    func testChunkedDataRanges() {
        var scanner = ChunkedBodyScanner()
        var data: [UInt8] = []
        let bytes = Array("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
        let result = bytes.withUnsafeBytes { raw in scanner.scan(raw) { data += bytes[$0] } }
        XCTAssertEqual(result, .complete(bytes.count))
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "abcde")
    }

    func testChunkedRefusesMalformed() {
        for bad in ["zz\r\n", "fffffffffffffffff\r\n", "3\r\nabcX", "3\nabc", "\r\n", "3 x\u{1}\r\n"] {
            guard case .malformed = scan([bad]).last! else { return XCTFail("accepted \(bad.debugDescription)") }
        }
    }
}

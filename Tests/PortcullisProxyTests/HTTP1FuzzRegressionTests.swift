import Foundation
import XCTest

@testable import PortcullisProxy

/// Every input the FuzzHTTP1 target kept (`FuzzTesting/HTTP1Crashers/`, written by `make fuzz`,
/// and the hand-made hostile ones there) and every seed (`FuzzTesting/HTTP1Corpus/`) goes through
/// `HTTP1Fuzzing.run`, the very function the fuzz target calls: the request-head parser, the
/// response-head parser and the chunked body scanner, with the invariants that trap. A crash
/// here is a crash the fuzzer once found; a refusal or an acceptance are both fine.
///
/// The token verifier's inputs are replayed by PortcullisCoreTests' FuzzRegressionTests; these
/// live here because that test target cannot see PortcullisProxy.
final class HTTP1FuzzRegressionTests: XCTestCase {
    static let fuzzTesting = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzTesting")

    func testKeptFuzzInputsDoNotCrashTheWireParsers() throws {
        var inputs = 0
        for folder in ["HTTP1Crashers", "HTTP1Corpus"] {
            let directory = Self.fuzzTesting.appendingPathComponent(folder)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            for name in names where !name.hasPrefix(".") {
                let bytes = try Data(contentsOf: directory.appendingPathComponent(name))
                bytes.withUnsafeBytes { HTTP1Fuzzing.run($0) }
                inputs += 1
            }
        }
        XCTAssertGreaterThan(inputs, 0, "no inputs under \(Self.fuzzTesting.path)")
    }

    /// The hand-made hostile inputs are refused or bounded for the stated reason, not just survived.
    func testHandMadeHostileInputsAreRefused() throws {
        let crashers = Self.fuzzTesting.appendingPathComponent("HTTP1Crashers")
        func body(_ name: String) throws -> [UInt8] {
            Array(try Data(contentsOf: crashers.appendingPathComponent(name)).dropFirst(2))  // selector and cut
        }
        var overflow = ChunkedBodyScanner()
        guard case .malformed = try body("handmade-chunk-size-overflow").withUnsafeBytes({ overflow.scan($0) }) else {
            return XCTFail("a 20-digit chunk size was not refused")
        }
        var flood = ChunkedBodyScanner()
        guard case .malformed = try body("handmade-trailer-flood").withUnsafeBytes({ flood.scan($0) }) else {
            return XCTFail("a trailer section over \(ChunkedBodyScanner.maxTrailerBytes) bytes was not refused")
        }
    }
}

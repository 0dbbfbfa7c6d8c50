import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import PortcullisProxy

/// Issue 11, "Strictness at least llhttp's": our request-head parser against NIOHTTP1's decoder
/// (llhttp), used here as an oracle only, over the corpus of `RequestHeadCorpus` and over random
/// mutations of it. Both must reach the same verdict (accept, refuse) and, when both accept, the
/// same method, target, version, field names and values. Every place where we differ on purpose
/// is one `Difference` below, named and justified (docs/security.md, "Request parsing: where we
/// differ from llhttp" lists the same); any other disagreement fails the test.
///
/// "We" means what the proxy does with a client's bytes, not the parser alone: empty lines before
/// the request line are skipped, the head ends at the first CRLF CRLF, a head over
/// `max_header_bytes` is refused, and after parsing a target that is not origin-form and CONNECT
/// are refused (ProxyConnectionStateMachine.startRequest).
final class RequestHeadDifferentialTests: XCTestCase {
    // MARK: - The corpus

    func testCorpusVerdictsAndAgreementWithLLHTTP() {
        var report = DifferentialReport()
        let llhttp = LLHTTPOracle()
        for entry in RequestHeadCorpus.entries {
            let outcome = Self.compare(entry.bytes, llhttp)
            report.record(outcome, input: entry.bytes, label: entry.name)
            let accepted: Bool
            if case .accepted = outcome.ours.verdict { accepted = true } else { accepted = false }
            XCTAssertEqual(accepted, entry.expect == .accept,
                           "\(entry.name): expected \(entry.expect), we gave \(outcome.ours) for \(Self.escaped(entry.bytes))")
        }
        report.assertNoUnexplainedDisagreement()
        // Every listed difference is seen in the corpus itself, so none is kept once it no longer applies.
        for difference in Self.differences where report.hits[difference.name, default: 0] == 0 {
            XCTFail("difference '\(difference.name)' is not exercised by any corpus entry")
        }
        print("request-head corpus: \(RequestHeadCorpus.entries.count) entries; \(report.summary)")
    }

    /// obs-text in a value is accepted and its bytes are kept exactly (issue 11: `caf\xe9` used to
    /// become U+FFFD).
    func testObsTextValuesArePassedUnchanged() throws {
        let head = RequestHeadCorpusEntry.decode("GET / HTTP/1.1\r\nHost: a\r\nX-Name: \t caf\\xe9\\x80\\xff \r\n\r\n")
        let parsed = try XCTUnwrap(Self.ours(head).parsed)
        let field = try XCTUnwrap(parsed.fields.last)
        XCTAssertEqual(field.name, Array("X-Name".utf8))
        XCTAssertEqual(field.value, [0x63, 0x61, 0x66, 0xE9, 0x80, 0xFF])
    }

    // MARK: - Mutations

    static let mutationCount = Int(ProcessInfo.processInfo.environment["PORTCULLIS_DIFF_MUTATIONS"] ?? "") ?? 100_000
    static let mutationSeed = UInt64(ProcessInfo.processInfo.environment["PORTCULLIS_DIFF_SEED"] ?? "") ?? 0x5EED_0011

    /// ≥ 100,000 random mutations of the corpus, from a fixed seed (override with
    /// `PORTCULLIS_DIFF_SEED` / `PORTCULLIS_DIFF_MUTATIONS`); a failure prints the seed, the
    /// iteration and the input, so it reproduces.
    func testMutatedHeadsAgreeWithLLHTTP() {
        var random = SplitMix64(seed: Self.mutationSeed)
        var mutator = HeadMutator()
        var report = DifferentialReport()
        let corpus = RequestHeadCorpus.entries.filter { $0.bytes.count < 2048 }
        let llhttp = LLHTTPOracle()
        let started = ContinuousClock.now
        for iteration in 0..<Self.mutationCount {
            let entry = corpus[Int(random.next(below: UInt64(corpus.count)))]
            let input = mutator.mutate(entry.bytes, &random)
            let outcome = Self.compare(input, llhttp)
            report.record(outcome, input: input, label: "seed \(Self.mutationSeed) iteration \(iteration) from '\(entry.name)'")
        }
        report.assertNoUnexplainedDisagreement()
        XCTAssertGreaterThan(report.bothAccepted, Self.mutationCount / 20, "the mutations should leave a fair share of valid heads")
        XCTAssertGreaterThan(report.bothRefused, Self.mutationCount / 5)
        print("request-head mutations: \(Self.mutationCount) in \(ContinuousClock.now - started); \(report.summary)")
    }

    // MARK: - Running both sides

    struct ParsedHead: Equatable, CustomStringConvertible {
        struct Field: Equatable {
            var name: [UInt8]
            var value: [UInt8]
        }

        var method: [UInt8]
        var target: [UInt8]
        var minor: Int
        var fields: [Field]

        var description: String {
            "\(RequestHeadDifferentialTests.escaped(method)) \(RequestHeadDifferentialTests.escaped(target)) 1.\(minor) "
                + fields.map { "[\(RequestHeadDifferentialTests.escaped($0.name)): \(RequestHeadDifferentialTests.escaped($0.value))]" }.joined()
        }

        /// Names and values as NIO sees them: decoded from UTF-8 with U+FFFD for invalid bytes, values trimmed.
        func asOracleWouldSee() -> OracleHead {
            OracleHead(method: String(decoding: method, as: UTF8.self), target: String(decoding: target, as: UTF8.self),
                       minor: minor,
                       fields: fields.map { (String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) })
        }
    }

    struct OracleHead: Equatable, CustomStringConvertible {
        var method: String
        var target: String
        var minor: Int
        var fields: [(String, String)]

        static func == (a: OracleHead, b: OracleHead) -> Bool {
            a.method == b.method && a.target == b.target && a.minor == b.minor
                && a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0 == $1 }
        }

        var description: String {
            "\(method.debugDescription) \(target.debugDescription) 1.\(minor) "
                + fields.map { "[\($0.0.debugDescription): \($0.1.debugDescription)]" }.joined()
        }

        func values(_ name: String) -> [String] {
            fields.filter { $0.0.lowercased() == name }.map(\.1)
        }
    }

    enum Verdict {
        case accepted
        case refused
        /// No complete head: the proxy waits for more (then times out or answers 431).
        case incomplete
    }

    struct Ours: CustomStringConvertible {
        var verdict: Verdict
        /// Why we refused (the parser's reason, or the proxy's step that refused).
        var reason = ""
        /// The parser's result, also when the proxy refuses it afterwards (origin-form, CONNECT).
        var parsed: ParsedHead?
        /// The parser's error, when it refused.
        var error: RequestHeadError?
        /// The head's end in the input (leading empty lines included), when one was found.
        var headEnd: Int?

        var description: String {
            switch verdict {
            case .accepted: "accepted \(parsed.map(\.description) ?? "")"
            case .refused: "refused (\(reason))"
            case .incomplete: "incomplete"
            }
        }
    }

    struct Oracle: CustomStringConvertible {
        var verdict: Verdict
        var head: OracleHead?
        var error: Error?

        var description: String {
            switch verdict {
            case .accepted: "accepted \(head.map(\.description) ?? "")"
            case .refused: "refused (\(error.map { String(describing: $0) } ?? "?"))\(head.map { " after the head \($0)" } ?? "")"
            case .incomplete: "incomplete"
            }
        }
    }

    static let maxHeaderBytes = 32768
    static let headTooLarge = "431 head over max_header_bytes"
    static let notOriginForm = "target not in origin-form"
    static let connect = "CONNECT"
    static let parser = RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 8192))

    /// The proxy's verdict on `input` as the first bytes of a connection.
    static func ours(_ input: [UInt8]) -> Ours {
        var skipped = 0
        while skipped < input.count, input[skipped] == HTTPBytes.cr || input[skipped] == HTTPBytes.lf { skipped += 1 }
        let rest = input[skipped...]
        if rest.isEmpty { return Ours(verdict: .incomplete) }
        let end = rest.withUnsafeBytes { HTTPBytes.headEnd(in: $0) }
        guard let end else {
            return rest.count > maxHeaderBytes ? Ours(verdict: .refused, reason: headTooLarge) : Ours(verdict: .incomplete)
        }
        guard end <= maxHeaderBytes else { return Ours(verdict: .refused, reason: headTooLarge, headEnd: skipped + end) }
        var storage: [HeaderField] = []
        let head = Array(rest.prefix(end))
        let result: Result<RequestHead, RequestHeadError> = head.withUnsafeBytes { raw in
            do throws(RequestHeadError) {
                return .success(try parser.parse(raw, fields: &storage))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .failure(let error):
            let reason = switch error {
            case .malformed(let why): why
            case .tooLarge: "431 too many fields"
            case .uriTooLong: "414 target too long"
            }
            return Ours(verdict: .refused, reason: reason, error: error, headEnd: skipped + end)
        case .success(let parsed):
            let view = ParsedHead(method: Array(head[parsed.method]), target: Array(head[parsed.target]),
                                  minor: parsed.minorVersion,
                                  fields: parsed.fields.map { .init(name: Array(head[$0.name]), value: Array(head[$0.value])) })
            // What startRequest refuses after parsing.
            if view.target.first != UInt8(ascii: "/") {
                return Ours(verdict: .refused, reason: notOriginForm, parsed: view, headEnd: skipped + end)
            }
            if head.withUnsafeBytes({ HTTPBytes.equalsIgnoringCase($0, parsed.method, "connect") }) {
                return Ours(verdict: .refused, reason: connect, parsed: view, headEnd: skipped + end)
            }
            return Ours(verdict: .accepted, parsed: view, headEnd: skipped + end)
        }
    }

    /// NIOHTTP1's decoder on one `EmbeddedChannel`, a fresh `HTTPRequestDecoder` for every input
    /// (swapping the handler costs a fraction of a new channel, which keeps the 100,000
    /// mutations within the time budget of a debug build).
    final class LLHTTPOracle {
        private let channel = EmbeddedChannel()

        deinit { _ = try? channel.finish() }

        /// The verdict on `bytes` as the first bytes of a connection: a head is accepted when
        /// the decoder emits it and reports no error.
        func verdict(_ bytes: [UInt8]) -> Oracle {
            let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
            try! channel.pipeline.syncOperations.addHandler(decoder, name: "decoder")
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            var failure: Error?
            do {
                try channel.writeInbound(buffer)
            } catch {
                failure = error
            }
            var parsed: OracleHead?
            while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
                if case .head(let head) = part, parsed == nil {
                    parsed = OracleHead(method: head.method.rawValue, target: head.uri, minor: head.version.minor,
                                        fields: head.headers.map { ($0.name, RequestHeadDifferentialTests.trimmed($0.value)) })
                }
            }
            channel.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            channel.embeddedEventLoop.run()
            // Whatever the removal forwarded (bytes after an upgrade) or raised is not ours to judge.
            while (try? channel.readInbound(as: ByteBuffer.self)) != nil {}
            while (try? channel.readInbound(as: HTTPServerRequestPart.self)) != nil {}
            if (try? channel.throwIfErrorCaught()) == nil {}
            // llhttp hands the head over (on_headers_complete) before it checks the framing fields
            // (Content-Length with Transfer-Encoding, a request Transfer-Encoding not ending in
            // chunked): only the bytes of the head are fed, so an error after the head refuses it.
            if let failure {
                return Oracle(verdict: .refused, head: parsed, error: failure)
            }
            return Oracle(verdict: parsed == nil ? .incomplete : .accepted, head: parsed)
        }
    }

    struct Outcome {
        var input: [UInt8]
        var ours: Ours
        var oracle: Oracle
        /// nil when both agree; else the named difference that explains it, or "" when none does.
        var explainedBy: String?

        var agrees: Bool { explainedBy == nil }
    }

    /// Runs both sides and judges the pair. llhttp gets the bytes we take as the head (it skips
    /// leading empty lines itself), or the whole input when we find no head.
    static func compare(_ input: [UInt8], _ llhttp: LLHTTPOracle, depth: Int = 0) -> Outcome {
        let ours = ours(input)
        let fed = ours.headEnd.map { Array(input.prefix($0)) } ?? input
        let oracle = llhttp.verdict(fed)
        var outcome = Outcome(input: input, ours: ours, oracle: oracle)
        if agree(ours, oracle) { return outcome }
        let recheck = Recheck(oracle: llhttp, depth: depth)
        outcome.explainedBy = differences.first { $0.explains(outcome, recheck) }?.name ?? ""
        return outcome
    }

    /// Re-runs the comparison on a changed input, to check that a difference is the only one.
    struct Recheck {
        let oracle: LLHTTPOracle
        let depth: Int

        /// `input` with `transform` applied agrees with llhttp (at most two levels deep, so a
        /// neutralised input may itself need another named difference).
        func agreesAfter(_ input: [UInt8], _ transform: ([UInt8]) -> [UInt8]?) -> Bool {
            guard depth < 2, let changed = transform(input), changed != input else { return false }
            // Agreement, or a disagreement that another named difference explains.
            guard let explained = RequestHeadDifferentialTests.compare(changed, oracle, depth: depth + 1).explainedBy else { return true }
            return !explained.isEmpty
        }
    }

    static func agree(_ ours: Ours, _ oracle: Oracle) -> Bool {
        switch (ours.verdict, oracle.verdict) {
        case (.accepted, .accepted):
            return ours.parsed?.asOracleWouldSee() == oracle.head
        case (.refused, .refused), (.refused, .incomplete), (.incomplete, .refused), (.incomplete, .incomplete):
            return true
        default:
            return false
        }
    }

    static func trimmed(_ value: String) -> String {
        var scalars = Substring(value)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }

    // MARK: - Where we differ on purpose

    struct Difference: Sendable {
        let name: String
        /// Why we differ (docs/security.md gives the same reasons).
        let justification: String
        /// True when this difference accounts for the disagreement in the outcome.
        let explains: @Sendable (Outcome, Recheck) -> Bool
    }

    static func refusedBecause(_ outcome: Outcome, _ reason: String) -> Bool {
        if case .malformed(let why) = outcome.ours.error { return why == reason }
        return false
    }

    static func oracleAccepted(_ outcome: Outcome) -> Bool {
        if case .accepted = outcome.oracle.verdict { return true }
        return false
    }

    static func oursAccepted(_ outcome: Outcome) -> Bool {
        if case .accepted = outcome.ours.verdict { return true }
        return false
    }

    /// The methods llhttp knows for HTTP requests; it refuses every other token.
    static let llhttpMethods: Set<String> = [
        "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE",
        "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY",
        "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR",
        "LINK", "UNLINK", "SOURCE", "QUERY",
    ]

    static let differences: [Difference] = [
        Difference(
            name: "extension methods",
            justification: """
                We accept any token as a method (RFC 9110 §9.1: method = token; methods are an open registry); \
                llhttp knows a fixed list and refuses the rest, lower-case spellings included. The method does not \
                take part in request framing (CONNECT, the one that does, is refused), and it is forwarded byte for byte.
                """,
            explains: { outcome, recheck in
                guard oursAccepted(outcome), let method = outcome.ours.parsed?.method,
                      !llhttpMethods.contains(String(decoding: method, as: UTF8.self)) else { return false }
                // With the method replaced by GET, llhttp must agree on everything else.
                return recheck.agreesAfter(outcome.input) { replacingMethod($0, method.count, with: "GET") }
            }),
        Difference(
            name: "HTTP/1.1 without Host",
            justification: """
                RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host; llhttp leaves that \
                to the application. A proxy that forwarded it would let the upstream pick a default virtual host.
                """,
            explains: { outcome, _ in
                refusedBecause(outcome, "HTTP/1.1 request without Host") && oracleAccepted(outcome)
                    && outcome.oracle.head?.minor == 1 && outcome.oracle.head?.values("host").isEmpty == true
            }),
        Difference(
            name: "more than one Host",
            justification: """
                RFC 9112 §3.2: a server MUST answer 400 to a request with more than one Host field; llhttp accepts \
                them. Two Hosts let the gate and the upstream route (and check tokens) for different virtual hosts.
                """,
            explains: { outcome, _ in
                refusedBecause(outcome, "more than one Host") && oracleAccepted(outcome)
                    && (outcome.oracle.head?.values("host").count ?? 0) > 1
            }),
        Difference(
            name: "Content-Length of more than 18 digits",
            justification: """
                We read Content-Length into a signed 64-bit integer and refuse more than 18 digits (even with \
                leading zeros); llhttp accepts up to 2^64-1. No such body can be sent, and refusing is a 400 \
                and a close, never a second reading of the body.
                """,
            explains: { outcome, _ in
                guard refusedBecause(outcome, "invalid Content-Length"), oracleAccepted(outcome),
                      let values = outcome.oracle.head?.values("content-length") else { return false }
                return values.contains { $0.count > 18 && $0.allSatisfy { ("0"..."9").contains($0) } }
            }),
        Difference(
            name: "HTAB or a trailing comma in an earlier Transfer-Encoding line",
            justification: """
                A Transfer-Encoding value ending in HTAB or in a comma is refused, as llhttp refuses it when it is \
                the last one (`chunked<HTAB>` is not chunked to llhttp). On an earlier line, followed by a line \
                `chunked`, llhttp takes it as some unknown coding and frames the body as chunked; we refuse the \
                field wherever it is, rather than guess which reading an upstream makes (`chunked<HTAB>` and \
                `chunked` would be chunked twice by RFC 9110's reading).
                """,
            explains: { outcome, recheck in
                guard refusedBecause(outcome, "Transfer-Encoding does not end in a single chunked"), oracleAccepted(outcome) else {
                    return false
                }
                return recheck.agreesAfter(outcome.input) { input in
                    rewritingFields(input, named: "transfer-encoding") { value in
                        Array(value.reversed().drop { $0 == HTTPBytes.sp || $0 == HTTPBytes.htab || $0 == UInt8(ascii: ",") }.reversed())
                    }
                }
            }),
        Difference(
            name: "Transfer-Encoding naming no coding",
            justification: """
                An empty Transfer-Encoding (or one of empty list elements only) is ignored by llhttp. RFC 9112 §6.3 \
                says a request whose Transfer-Encoding does not end in chunked is answered 400, and an upstream may \
                take the field's presence as a chunked body: we refuse it.
                """,
            explains: { outcome, recheck in
                guard case .refused = outcome.ours.verdict, oracleAccepted(outcome), let head = outcome.oracle.head else { return false }
                let values = head.values("transfer-encoding")
                guard !values.isEmpty, values.allSatisfy({ $0.split(separator: ",").allSatisfy { trimmed(String($0)).isEmpty } }) else {
                    return false
                }
                // Without those fields, llhttp and we must agree.
                return recheck.agreesAfter(outcome.input) { removingFields($0, named: "transfer-encoding") }
            }),
        Difference(
            name: "framing of a request that asks for an upgrade",
            justification: """
                llhttp stops at the head of a request with `Connection: upgrade` and `Upgrade` (what follows is \
                taken as the new protocol), so it never checks that request's Transfer-Encoding or Content-Length. \
                The proxy tunnels only after an upstream 101; until then such a request's body is framed like any \
                other, so the same framing rules refuse it.
                """,
            explains: { outcome, recheck in
                guard case .refused = outcome.ours.verdict, oracleAccepted(outcome), let head = outcome.oracle.head,
                      !head.values("upgrade").isEmpty else { return false }
                return recheck.agreesAfter(outcome.input) { removingFields($0, named: "upgrade") }
            }),
        Difference(
            name: "RTSP and ICE protocol names",
            justification: """
                llhttp, built for both HTTP and RTSP, takes `RTSP/1.0` (and `ICE/1.0` for SOURCE) in a request \
                line where HTTP-version belongs, and NIO reports it as HTTP/1.0; we accept only `HTTP/1.0` and \
                `HTTP/1.1` (RFC 9112 §2.3).
                """,
            explains: { outcome, recheck in
                guard refusedBecause(outcome, "invalid HTTP version or request line end"), oracleAccepted(outcome) else { return false }
                return recheck.agreesAfter(outcome.input) { input in
                    rewritingRequestLine(input) { line in
                        for name in ["RTSP/", "ICE/"] {
                            if let range = line.firstRange(of: Array(" \(name)".utf8)) {
                                return Array(line[..<range.lowerBound]) + Array(" HTTP/".utf8) + Array(line[range.upperBound...])
                            }
                        }
                        return line
                    }
                }
            }),
        Difference(
            name: "more than one SP between request-line parts",
            justification: """
                RFC 9112 §3: method, target and version are separated by exactly one SP; llhttp skips any number. \
                A recipient that splits the line differently could see another target, so we refuse it (§3 allows \
                either; we do not guess).
                """,
            explains: { outcome, recheck in
                guard case .refused = outcome.ours.verdict, outcome.ours.error != nil, oracleAccepted(outcome) else { return false }
                return recheck.agreesAfter(outcome.input) { input in
                    rewritingRequestLine(input) { line in
                        var collapsed: [UInt8] = []
                        for byte in line where !(byte == HTTPBytes.sp && collapsed.last == HTTPBytes.sp) { collapsed.append(byte) }
                        return collapsed
                    }
                }
            }),
        Difference(
            name: "head larger than proxy.max_header_bytes",
            justification: """
                The proxy answers 431 to a head over proxy.max_header_bytes (32 KiB by default); NIO's limit is \
                80 KiB per field. A size limit, not a parsing difference.
                """,
            explains: { outcome, _ in outcome.ours.reason == headTooLarge && oracleAccepted(outcome)
            }),
        Difference(
            name: "more than proxy.max_headers fields",
            justification: "The proxy answers 431 to more than proxy.max_headers fields (100 by default); NIO allows 65,534.",
            explains: { outcome, _ in
                outcome.ours.error == .tooLarge && oracleAccepted(outcome) && (outcome.oracle.head?.fields.count ?? 0) > 100
            }),
        Difference(
            name: "target longer than proxy.max_uri_bytes",
            justification: "The proxy answers 414 to a target over proxy.max_uri_bytes (8 KiB by default); llhttp has no such limit.",
            explains: { outcome, _ in
                outcome.ours.error == .uriTooLong && oracleAccepted(outcome)
                    && (outcome.oracle.head?.target.utf8.count ?? 0) > 8192
            }),
        Difference(
            name: "targets that are not origin-form",
            justification: """
                The proxy routes only origin-form targets ("/" first); absolute-form, authority-form and "*" are \
                answered 400 after parsing (startRequest). llhttp accepts them. The parser itself agrees with llhttp.
                """,
            explains: { outcome, _ in
                guard outcome.ours.reason == notOriginForm, oracleAccepted(outcome) else { return false }
                return outcome.ours.parsed?.asOracleWouldSee() == outcome.oracle.head
            }),
        Difference(
            name: "CONNECT",
            justification: """
                The proxy is not a tunnel: CONNECT is answered 400 after parsing (startRequest). llhttp accepts it. \
                The parser itself agrees with llhttp.
                """,
            explains: { outcome, _ in
                // Whatever else the parser thinks of it: the proxy refuses every CONNECT.
                oracleAccepted(outcome) && outcome.oracle.head?.method == "CONNECT"
                    && (outcome.ours.reason != connect || outcome.ours.parsed?.asOracleWouldSee() == outcome.oracle.head)
            }),
    ]

    /// `input` with its request line (after leading empty lines, up to its CRLF) rewritten.
    static func rewritingRequestLine(_ input: [UInt8], _ rewrite: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        var start = 0
        while start < input.count, input[start] == HTTPBytes.cr || input[start] == HTTPBytes.lf { start += 1 }
        guard let end = input[start...].firstIndex(of: HTTPBytes.cr) else { return nil }
        return Array(input[..<start]) + rewrite(Array(input[start..<end])) + Array(input[end...])
    }

    /// `input` without the CRLF-ended field lines called `name` (any case).
    static func removingFields(_ input: [UInt8], named name: String) -> [UInt8] {
        let prefix = Array((name + ":").utf8)
        var out: [UInt8] = []
        var lineStart = 0
        while lineStart < input.count {
            var lineEnd = lineStart
            while lineEnd + 1 < input.count, !(input[lineEnd] == HTTPBytes.cr && input[lineEnd + 1] == HTTPBytes.lf) { lineEnd += 1 }
            if lineEnd + 1 >= input.count { lineEnd = input.count }
            let line = input[lineStart..<lineEnd]
            let matches = lineStart > 0 && line.count >= prefix.count
                && zip(line.prefix(prefix.count), prefix).allSatisfy { HTTPBytes.lower($0) == $1 }
            if !matches { out += line + input[lineEnd..<min(lineEnd + 2, input.count)] }
            lineStart = lineEnd + 2
        }
        return out
    }

    /// `input` with the value of every CRLF-ended field line called `name` (any case) rewritten.
    static func rewritingFields(_ input: [UInt8], named name: String, _ rewrite: ([UInt8]) -> [UInt8]) -> [UInt8] {
        let prefix = Array((name + ":").utf8)
        var out: [UInt8] = []
        var lineStart = 0
        while lineStart < input.count {
            var lineEnd = lineStart
            while lineEnd + 1 < input.count, !(input[lineEnd] == HTTPBytes.cr && input[lineEnd + 1] == HTTPBytes.lf) { lineEnd += 1 }
            if lineEnd + 1 >= input.count { lineEnd = input.count }
            let line = input[lineStart..<lineEnd]
            if line.count >= prefix.count, zip(line.prefix(prefix.count), prefix).allSatisfy({ HTTPBytes.lower($0) == $1 }) {
                out += line.prefix(prefix.count) + rewrite(Array(line.dropFirst(prefix.count)))
            } else {
                out += line
            }
            out += input[lineEnd..<min(lineEnd + 2, input.count)]
            lineStart = lineEnd + 2
        }
        return out
    }

    static func replacingMethod(_ input: [UInt8], _ length: Int, with method: String) -> [UInt8]? {
        var skipped = 0
        while skipped < input.count, input[skipped] == HTTPBytes.cr || input[skipped] == HTTPBytes.lf { skipped += 1 }
        guard skipped + length <= input.count else { return nil }
        return Array(input[..<skipped]) + Array(method.utf8) + Array(input[(skipped + length)...])
    }

    static func escaped(_ bytes: some Collection<UInt8>) -> String {
        var out = "\""
        for byte in bytes {
            switch byte {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return out + "\""
    }
}

// MARK: - Bookkeeping

struct DifferentialReport {
    var hits: [String: Int] = [:]
    var failures: [String] = []
    var failureCount = 0
    var bothAccepted = 0
    var bothRefused = 0
    var total = 0

    mutating func record(_ outcome: RequestHeadDifferentialTests.Outcome, input: [UInt8], label: String) {
        total += 1
        switch (outcome.ours.verdict, outcome.oracle.verdict) {
        case (.accepted, .accepted) where outcome.agrees: bothAccepted += 1
        case (.accepted, _), (_, .accepted): break
        default: bothRefused += 1
        }
        guard let name = outcome.explainedBy else { return }
        if !name.isEmpty {
            hits[name, default: 0] += 1
            return
        }
        failureCount += 1
        guard failures.count < 25 else { return }
        failures.append("""
            \(label): ours \(outcome.ours), llhttp \(outcome.oracle)
              input \(RequestHeadDifferentialTests.escaped(input.prefix(600)))\(input.count > 600 ? "… (\(input.count) bytes)" : "")
            """)
    }

    var summary: String {
        "both accepted \(bothAccepted), both refused \(bothRefused), named differences "
            + hits.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    }

    func assertNoUnexplainedDisagreement(file: StaticString = #filePath, line: UInt = #line) {
        guard failureCount > 0 else { return }
        XCTFail("\(failureCount) of \(total) inputs where we and llhttp disagree for no listed reason:\n"
                    + failures.joined(separator: "\n"), file: file, line: line)
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a given seed.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}

/// Mutations aimed at the head: byte flips and replacements, insertions of the bytes that matter to
/// framing (CR, LF, SP, HTAB, NUL, 0x80, `:`, `,`...), deletions, duplicated, swapped and inserted
/// field lines, case changes. Most land before the final CRLF CRLF, where the parsers work.
struct HeadMutator {
    static let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x00, 0x80, 0x3A, 0x2C, 0x7F, 0x0B, 0x0C, 0xFF,
                                       0x22, 0x3B, 0x2B, 0x2D, 0x30, 0x39, 0x2F, 0x3F, 0x23, 0x25, 0xE9, 0x01]
    static let lines: [[UInt8]] = [
        "Transfer-Encoding: chunked", "Content-Length: 0", "Content-Length: 5", "Host: b", "Transfer-Encoding: gzip",
        "Connection: close", "Upgrade: websocket", "Expect: 100-continue", "Transfer-Encoding: identity",
        " chunked", "\tx", "X: y",
    ].map { Array(($0 + "\r\n").utf8) }
    static let tokens: [[UInt8]] = [
        "chunked", "Transfer-Encoding", "Content-Length", "Host", "HTTP/1.0", "HTTP/1.1", " ", "\r\n", "\r\n\r\n", "\n", ",",
    ].map { Array($0.utf8) }

    mutating func mutate(_ original: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = original
        let rounds = 1 + Int(random.next(below: 3))
        for _ in 0..<rounds { mutateOnce(&bytes, &random) }
        return bytes
    }

    private func position(in bytes: [UInt8], _ random: inout SplitMix64, inclusive: Bool = false) -> Int {
        // Mostly before the final CRLF CRLF, so the head stays a head.
        let limit = max(bytes.count - (random.next(below: 8) == 0 ? 0 : 4), 1)
        return Int(random.next(below: UInt64(limit + (inclusive ? 1 : 0))))
    }

    private func lineStarts(_ bytes: [UInt8]) -> [Int] {
        var starts = [0]
        for index in bytes.indices where bytes[index] == HTTPBytes.lf && index + 1 < bytes.count { starts.append(index + 1) }
        return starts
    }

    private func mutateOnce(_ bytes: inout [UInt8], _ random: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes = Array("GET / HTTP/1.1\r\n\r\n".utf8)
            return
        }
        switch random.next(below: 12) {
        case 0:  // flip one bit
            let at = position(in: bytes, &random)
            bytes[at] ^= 1 << UInt8(random.next(below: 8))
        case 1:  // replace with any byte
            bytes[position(in: bytes, &random)] = UInt8(truncatingIfNeeded: random.next())
        case 2, 3:  // replace with an interesting byte
            bytes[position(in: bytes, &random)] = Self.interesting[Int(random.next(below: UInt64(Self.interesting.count)))]
        case 4, 5:  // insert an interesting byte
            bytes.insert(Self.interesting[Int(random.next(below: UInt64(Self.interesting.count)))],
                         at: position(in: bytes, &random, inclusive: true))
        case 6:  // delete one to three bytes
            let at = position(in: bytes, &random)
            bytes.removeSubrange(at..<min(at + 1 + Int(random.next(below: 3)), bytes.count))
        case 7:  // duplicate a line
            let starts = lineStarts(bytes)
            let which = Int(random.next(below: UInt64(starts.count)))
            let end = which + 1 < starts.count ? starts[which + 1] : bytes.count
            let line = Array(bytes[starts[which]..<end])
            bytes.insert(contentsOf: line, at: starts[Int(random.next(below: UInt64(starts.count)))])
        case 8:  // swap two lines (the request line may move)
            let starts = lineStarts(bytes)
            guard starts.count > 2 else { return }
            let a = Int(random.next(below: UInt64(starts.count - 1)))
            let lineA = Array(bytes[starts[a]..<starts[a + 1]])
            bytes.removeSubrange(starts[a]..<starts[a + 1])
            let remaining = lineStarts(bytes)
            bytes.insert(contentsOf: lineA, at: remaining[Int(random.next(below: UInt64(remaining.count)))])
        case 9:  // insert a field line that matters to framing or routing
            let starts = lineStarts(bytes)
            let at = starts[min(1 + Int(random.next(below: UInt64(max(starts.count - 1, 1)))), starts.count - 1)]
            bytes.insert(contentsOf: Self.lines[Int(random.next(below: UInt64(Self.lines.count)))], at: at)
        case 10:  // insert a token
            bytes.insert(contentsOf: Self.tokens[Int(random.next(below: UInt64(Self.tokens.count)))],
                         at: position(in: bytes, &random, inclusive: true))
        default:  // toggle the case of a letter
            let at = position(in: bytes, &random)
            if (bytes[at] | 0x20) >= UInt8(ascii: "a") && (bytes[at] | 0x20) <= UInt8(ascii: "z") { bytes[at] ^= 0x20 }
        }
    }
}

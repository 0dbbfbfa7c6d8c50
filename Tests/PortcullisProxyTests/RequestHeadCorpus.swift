/// The hand-written corpus of the request-head differential test: valid heads, and every
/// request-smuggling and malformed-head vector we know, each with the verdict the proxy must
/// reach (after its own steps around the parser: leading empty lines skipped, non-origin-form
/// targets and CONNECT refused). The mutation pass starts from these.
///
/// Entries are written as text; `\\xHH` inside a string stands for the byte 0xHH, so heads with
/// NUL, CTLs or obs-text stay readable.
struct RequestHeadCorpusEntry {
    enum Expect {
        case accept
        case refuse
    }

    let name: String
    let expect: Expect
    let bytes: [UInt8]

    init(_ name: String, _ expect: Expect, _ text: String) {
        self.name = name
        self.expect = expect
        self.bytes = Self.decode(text)
    }

    init(_ name: String, _ expect: Expect, bytes: [UInt8]) {
        self.name = name
        self.expect = expect
        self.bytes = bytes
    }

    /// The text's UTF-8 with every `\xHH` replaced by the byte it names.
    static func decode(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count, utf8[index + 1] == UInt8(ascii: "x"),
               let high = hex(utf8[index + 2]), let low = hex(utf8[index + 3]) {
                out.append(high << 4 | low)
                index += 4
            } else {
                out.append(utf8[index])
                index += 1
            }
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

enum RequestHeadCorpus {
    typealias E = RequestHeadCorpusEntry

    /// `GET / HTTP/1.1`, a Host, the given field lines (each without its CRLF), the empty line.
    static func get(_ lines: String...) -> String {
        "GET / HTTP/1.1\r\nHost: example.com\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    static func post(_ lines: String...) -> String {
        "POST /upload HTTP/1.1\r\nHost: example.com\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    static let entries: [E] = valid + framing + fieldSyntax + startLine + hosts + sizes

    static let valid: [E] = [
        E("minimal GET", .accept, get()),
        E("HTTP/1.0 without Host", .accept, "GET / HTTP/1.0\r\n\r\n"),
        E("HTTP/1.0 with Host and keep-alive", .accept, "GET /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"),
        E("HEAD", .accept, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("PUT", .accept, "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"),
        E("DELETE", .accept, "DELETE /x/1 HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("OPTIONS path", .accept, "OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("TRACE", .accept, "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("PATCH", .accept, "PATCH /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"),
        E("QUERY", .accept, "QUERY /search HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"),
        E("extension method", .accept, "FROBNICATE / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("lower-case method", .accept, "get / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("method with tchars", .accept, "X-M.1~ / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("query and escapes", .accept, "GET /a/b%20c?x=1&y=%2F#frag HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("double slash path", .accept, "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("path with sub-delims", .accept, "GET /a;b=c,d!$&'()*+=:@ HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("path with raw UTF-8", .refuse, "GET /caf\\xc3\\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("path with raw obs-text", .refuse, "GET /caf\\xe9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("path with percent-encoded UTF-8", .accept, "GET /caf%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("path with quote and angle brackets", .accept, "GET /\"<x>\"{}|\\x5c^` HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("leading CRLF", .accept, "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("leading CRLF CRLF", .accept, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("leading bare LF", .accept, "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("empty value", .accept, get("X-Empty:")),
        E("empty value with space", .accept, get("X-Empty: ")),
        E("value with surrounding whitespace", .accept, get("X-Pad: \t a b \t ")),
        E("value with inner HTAB", .accept, get("X-Tab: a\tb")),
        E("value with every VCHAR", .accept,
          get("X-All: !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\x5c]^_`abcdefghijklmnopqrstuvwxyz{|}~")),
        E("name with every tchar", .accept, get("!#$%&'*+-.^_`|~09azAZ: v")),
        E("obs-text value", .accept, get("X-Name: caf\\xe9")),
        E("obs-text value, high bytes", .accept, get("X-Bin: \\x80\\x81\\xfe\\xff")),
        E("UTF-8 value", .accept, get("X-Name: caf\\xc3\\xa9 \\xe2\\x82\\xac")),
        E("colon in value", .accept, get("X-Url: http://a:80/b")),
        E("upper-case names", .accept, "GET / HTTP/1.1\r\nHOST: a\r\nCONTENT-LENGTH: 0\r\n\r\n"),
        E("lower-case names", .accept, "GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n"),
        E("mixed-case names", .accept, "GET / HTTP/1.1\r\nhOsT: a\r\ncOnTeNt-LeNgTh: 0\r\n\r\n"),
        E("many fields", .accept, get((1...60).map { "X-Field-\($0): value \($0)" }.joined(separator: "\r\n"))),
        E("same name repeated", .accept, get("X-A: 1", "X-A: 2", "x-a: 3")),
        E("connection options", .accept, get("Connection: close, X-Hop", "X-Hop: 1", "Keep-Alive: 5")),
        E("upgrade", .accept, get("Connection: upgrade", "Upgrade: websocket")),
        E("expect 100-continue", .accept, post("Content-Length: 10", "Expect: 100-continue")),
        E("authorization bearer", .accept, get("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")),
        E("cookie", .accept, get("Cookie: a=1; b=2")),
    ]

    static let framing: [E] = [
        E("Content-Length", .accept, post("Content-Length: 5")),
        E("Content-Length 0", .accept, post("Content-Length: 0")),
        E("Content-Length with OWS", .accept, post("Content-Length: \t 5  ")),
        E("Content-Length with OWS, trailing HTAB", .refuse, post("Content-Length: \t 5 \t")),
        E("Content-Length with trailing space", .accept, post("Content-Length: 5 ")),
        E("Content-Length with trailing HTAB", .refuse, post("Content-Length: 5\t")),
        E("Content-Length with SP HTAB", .refuse, post("Content-Length: 5 \t")),
        E("Content-Length with HTAB SP", .refuse, post("Content-Length: 5\t ")),
        E("Content-Length with leading HTAB", .accept, post("Content-Length:\t5")),
        E("Content-Length with leading zeros", .accept, post("Content-Length: 0005")),
        E("Content-Length 18 digits", .accept, post("Content-Length: 999999999999999999")),
        E("chunked", .accept, post("Transfer-Encoding: chunked")),
        E("chunked upper-case", .accept, post("Transfer-Encoding: CHUNKED")),
        E("chunked, trailing space (OWS)", .accept, post("Transfer-Encoding: chunked ")),
        E("chunked, leading HTAB (OWS)", .accept, post("Transfer-Encoding:\tchunked")),
        E("gzip, chunked", .accept, post("Transfer-Encoding: gzip, chunked")),
        E("gzip then chunked on two lines", .accept, post("Transfer-Encoding: gzip", "Transfer-Encoding: chunked")),
        E("chunked in HTTP/1.0", .accept, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        // CL.TE and TE.CL
        E("CL.TE", .refuse, post("Content-Length: 6", "Transfer-Encoding: chunked")),
        E("TE.CL", .refuse, post("Transfer-Encoding: chunked", "Content-Length: 6")),
        E("CL 0 with TE", .refuse, post("Content-Length: 0", "Transfer-Encoding: chunked")),
        E("CL.TE in HTTP/1.0", .refuse, "POST / HTTP/1.0\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"),
        E("CL with TE identity", .refuse, post("Content-Length: 6", "Transfer-Encoding: identity")),
        // TE.TE: obfuscated Transfer-Encoding values
        E("TE xchunked", .refuse, post("Transfer-Encoding: xchunked")),
        E("TE chunkedx", .refuse, post("Transfer-Encoding: chunkedx")),
        E("TE chunk", .refuse, post("Transfer-Encoding: chunk")),
        E("TE chunked, identity", .refuse, post("Transfer-Encoding: chunked, identity")),
        E("TE chunked then identity line", .refuse, post("Transfer-Encoding: chunked", "Transfer-Encoding: identity")),
        E("TE identity", .refuse, post("Transfer-Encoding: identity")),
        E("TE gzip", .refuse, post("Transfer-Encoding: gzip")),
        E("TE empty", .refuse, post("Transfer-Encoding:")),
        E("TE quoted chunked", .refuse, post("Transfer-Encoding: \"chunked\"")),
        E("TE chunked with parameter", .refuse, post("Transfer-Encoding: chunked;q=1")),
        E("TE chunked, chunked", .refuse, post("Transfer-Encoding: chunked, chunked")),
        E("TE chunked on two lines", .refuse, post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked")),
        E("TE chunked with VT", .refuse, post("Transfer-Encoding: chunked\\x0b")),
        E("TE chunked with FF", .refuse, post("Transfer-Encoding: \\x0cchunked")),
        E("TE chunked with NUL", .refuse, post("Transfer-Encoding: chunked\\x00")),
        E("TE space before colon", .refuse, post("Transfer-Encoding : chunked")),
        E("TE tab before colon", .refuse, post("Transfer-Encoding\t: chunked")),
        E("TE name with underscore is another field", .accept, post("Transfer_Encoding: chunked")),
        E("TE folded", .refuse, post("Transfer-Encoding: gzip,", " chunked")),
        E("TE folded after empty value", .refuse, post("Transfer-Encoding:", " chunked")),
        E("TE as first line with leading space", .refuse, "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n"),
        E("TE obs-text in coding", .refuse, post("Transfer-Encoding: ch\\xfcnked")),
        E("TE empty with CL", .refuse, post("Transfer-Encoding:", "Content-Length: 5")),
        E("TE list of empty elements", .refuse, post("Transfer-Encoding: , ,")),
        E("TE chunked with trailing HTAB", .refuse, post("Transfer-Encoding: chunked\t")),
        E("TE chunked, SP HTAB", .refuse, post("Transfer-Encoding: chunked \t")),
        E("TE HTAB chunked HTAB", .refuse, post("Transfer-Encoding:\tchunked\t")),
        E("TE gzip HTAB comma chunked", .accept, post("Transfer-Encoding: gzip\t, chunked")),
        E("TE gzip comma HTAB chunked", .accept, post("Transfer-Encoding: gzip,\tchunked")),
        E("TE gzip SP comma chunked", .accept, post("Transfer-Encoding: gzip , chunked")),
        E("TE chunked comma", .refuse, post("Transfer-Encoding: chunked,")),
        E("TE comma chunked", .accept, post("Transfer-Encoding: , chunked")),
        E("TE chunked HTAB, then chunked", .refuse, post("Transfer-Encoding: chunked\t", "Transfer-Encoding: chunked")),
        E("TE gzip HTAB, then chunked", .refuse, post("Transfer-Encoding: gzip\t", "Transfer-Encoding: chunked")),
        E("TE chunked comma, then chunked", .refuse, post("Transfer-Encoding: chunked,", "Transfer-Encoding: chunked")),
        E("upgrade request with TE gzip", .refuse, get("Connection: upgrade", "Upgrade: websocket", "Transfer-Encoding: gzip")),
        E("upgrade request with CL.TE", .refuse,
          get("Connection: upgrade", "Upgrade: h2c", "Content-Length: 5", "Transfer-Encoding: chunked")),
        E("upgrade request with two CL", .refuse, get("Connection: upgrade", "Upgrade: websocket", "Content-Length: 5", "Content-Length: 6")),
        E("TE with CL in HTTP/1.0", .refuse, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"),
        // Content-Length
        E("CL duplicate same value", .refuse, post("Content-Length: 5", "Content-Length: 5")),
        E("CL duplicate differing", .refuse, post("Content-Length: 5", "Content-Length: 6")),
        E("CL list", .refuse, post("Content-Length: 5, 5")),
        E("CL plus", .refuse, post("Content-Length: +5")),
        E("CL minus", .refuse, post("Content-Length: -1")),
        E("CL hex", .refuse, post("Content-Length: 0x5")),
        E("CL decimal point", .refuse, post("Content-Length: 5.0")),
        E("CL inner space", .refuse, post("Content-Length: 1 2")),
        E("CL empty", .refuse, post("Content-Length:")),
        E("CL letters", .refuse, post("Content-Length: abc")),
        E("CL 19 digits", .refuse, post("Content-Length: 1000000000000000000")),
        E("CL 20 digits, fits 64 bits", .refuse, post("Content-Length: 18446744073709551615")),
        E("CL overflows 64 bits", .refuse, post("Content-Length: 18446744073709551616")),
        E("CL huge", .refuse, post("Content-Length: 99999999999999999999999999999")),
        E("CL with NUL", .refuse, post("Content-Length: 5\\x00")),
        E("CL space before colon", .refuse, post("Content-Length : 5")),
        E("CL folded", .refuse, post("Content-Length:", " 5")),
        E("CL obs-text digit", .refuse, post("Content-Length: \\xb5")),
    ]

    static let fieldSyntax: [E] = [
        E("obs-fold", .refuse, get("X-A: 1", " continued")),
        E("obs-fold with HTAB", .refuse, get("X-A: 1", "\tcontinued")),
        E("space before colon", .refuse, get("X-A : 1")),
        E("space inside name", .refuse, get("X A: 1")),
        E("name without colon", .refuse, get("X-A 1")),
        E("empty name", .refuse, get(": 1")),
        E("only a colon", .refuse, get(":")),
        E("name with (", .refuse, get("X(A: 1")),
        E("name with quote", .refuse, get("X\"A: 1")),
        E("name with slash", .refuse, get("X/A: 1")),
        E("name with @", .refuse, get("X@A: 1")),
        E("name with NUL", .refuse, get("X\\x00A: 1")),
        E("name with obs-text", .refuse, get("H\\xf3st: a")),
        E("name with DEL", .refuse, get("X\\x7fA: 1")),
        E("NUL in value", .refuse, get("X-A: a\\x00b")),
        E("NUL at value end", .refuse, get("X-A: ab\\x00")),
        E("CR in value", .refuse, get("X-A: a\rb")),
        E("CR CR LF", .refuse, get("X-A: ab\r")),
        E("LF in value", .refuse, "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\nb: c\r\n\r\n"),
        E("SOH in value", .refuse, get("X-A: a\\x01b")),
        E("VT in value", .refuse, get("X-A: a\\x0bb")),
        E("FF in value", .refuse, get("X-A: a\\x0cb")),
        E("ESC in value", .refuse, get("X-A: a\\x1bb")),
        E("DEL in value", .refuse, get("X-A: a\\x7fb")),
        E("unit separator in value", .refuse, get("X-A: a\\x1fb")),
        E("bare LF after field", .refuse, "GET / HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n"),
        E("bare LF after request line", .refuse, "GET / HTTP/1.1\nHost: a\r\n\r\n"),
        E("bare LF ends head", .refuse, "GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n"),
        E("bare LF everywhere", .refuse, "GET / HTTP/1.1\nHost: a\n\n"),
        E("bare CR after field", .refuse, "GET / HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n"),
        E("bare CR after request line", .refuse, "GET / HTTP/1.1\rHost: a\r\n\r\n"),
        E("CR before final CRLF", .refuse, "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"),
        E("header after smuggled empty line", .refuse, "GET / HTTP/1.1\r\nHost: a\r\n\n\r\nX: 1\r\n\r\n"),
        E("NUL before request line", .refuse, "\\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("space before request line", .refuse, " GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("HTAB before request line", .refuse, "\tGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ]

    static let startLine: [E] = [
        E("HTTP/0.9 version", .refuse, "GET / HTTP/0.9\r\nHost: a\r\n\r\n"),
        E("HTTP/0.9 simple request", .refuse, "GET /\r\n\r\n"),
        E("HTTP/2.0", .refuse, "GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
        E("HTTP/2 preface", .refuse, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        E("HTTP/1.2", .refuse, "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
        E("HTTP/1.9", .refuse, "GET / HTTP/1.9\r\nHost: a\r\n\r\n"),
        E("HTTP/1.10", .refuse, "GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
        E("HTTP/3.0", .refuse, "GET / HTTP/3.0\r\nHost: a\r\n\r\n"),
        E("HTTP/1", .refuse, "GET / HTTP/1\r\nHost: a\r\n\r\n"),
        E("HTTP/11", .refuse, "GET / HTTP/11\r\nHost: a\r\n\r\n"),
        E("lower-case http", .refuse, "GET / http/1.1\r\nHost: a\r\n\r\n"),
        E("HTTPS/1.1", .refuse, "GET / HTTPS/1.1\r\nHost: a\r\n\r\n"),
        E("RTSP/1.0", .refuse, "GET / RTSP/1.0\r\nHost: a\r\n\r\n"),
        E("ICE/1.0", .refuse, "SOURCE / ICE/1.0\r\nHost: a\r\n\r\n"),
        E("space after version", .refuse, "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
        E("HTAB after version", .refuse, "GET / HTTP/1.1\t\r\nHost: a\r\n\r\n"),
        E("no version", .refuse, "GET / \r\nHost: a\r\n\r\n"),
        E("no target", .refuse, "GET  HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("two spaces before target", .refuse, "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("two spaces before version", .refuse, "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("HTAB as separator", .refuse, "GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n"),
        E("space in target", .refuse, "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("HTAB in target", .refuse, "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("NUL in target", .refuse, "GET /a\\x00b HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("DEL in target", .refuse, "GET /a\\x7fb HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("FF in target", .refuse, "GET /a\\x0cb HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("CR in target", .refuse, "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("empty method", .refuse, " / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("method with (", .refuse, "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("method with NUL", .refuse, "GE\\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("method with obs-text", .refuse, "G\\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("method with slash", .refuse, "GET/ / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("method only", .refuse, "GET\r\nHost: a\r\n\r\n"),
        E("asterisk form", .refuse, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("absolute form", .refuse, "GET http://evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("absolute form, https", .refuse, "GET https://evil.example:443/x?y HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
        E("authority form", .refuse, "GET evil.example:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("CONNECT", .refuse, "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"),
        E("CONNECT origin form", .refuse, "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ]

    static let hosts: [E] = [
        E("HTTP/1.1 without Host", .refuse, "GET / HTTP/1.1\r\n\r\n"),
        E("HTTP/1.1 without Host, other fields", .refuse, "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"),
        E("two Host", .refuse, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        E("two Host, same value", .refuse, "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
        E("Host and host", .refuse, "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
        E("two Host in HTTP/1.0", .refuse, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
        E("empty Host", .accept, "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
        E("Host with port", .accept, "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
        E("Host space before colon", .refuse, "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        E("Host folded", .refuse, "GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n"),
    ]

    static let sizes: [E] = [
        E("8 KB value", .accept, get("X-Big: " + String(repeating: "v", count: 8000))),
        E("8 KB target", .accept, "GET /" + String(repeating: "p", count: 8000) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("100 fields", .accept, "GET / HTTP/1.1\r\nHost: a\r\n" + (1...99).map { "X-\($0): v\r\n" }.joined() + "\r\n"),
        E("101 fields", .refuse, "GET / HTTP/1.1\r\nHost: a\r\n" + (1...100).map { "X-\($0): v\r\n" }.joined() + "\r\n"),
        E("target over max_uri_bytes", .refuse, "GET /" + String(repeating: "p", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
        E("head over max_header_bytes", .refuse, get("X-Big: " + String(repeating: "v", count: 40000))),
        E("value over llhttp's field limit", .refuse, get("X-Big: " + String(repeating: "v", count: 90000))),
        E("long name", .accept, get(String(repeating: "N", count: 4000) + ": v")),
    ]
}

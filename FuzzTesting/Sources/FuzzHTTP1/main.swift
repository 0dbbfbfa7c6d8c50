// libFuzzer entry point for the data plane's HTTP/1.1 wire code: the request-head parser (as a
// client's pipelined bytes), the response-head parser and the chunked body scanner. The first
// input byte chooses which (see `HTTP1Fuzzing.run`); the checks that trap on a broken invariant
// live next to the parsers, in Sources/PortcullisProxy/HTTP1/FuzzEntryPoints.swift.
// Built with -parse-as-library, so this file has no top-level code.
import CLibFuzzer
import PortcullisProxy

/// As in FuzzTokenVerifier: SwiftPM links executables with `--defsym main=<module>_main`,
/// which hides libFuzzer's own `main`, so this hands over to libFuzzer's driver.
@_cdecl("FuzzHTTP1_main")
public func fuzzHTTP1Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { start, count in fuzzHTTP1(start, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    HTTP1Fuzzing.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

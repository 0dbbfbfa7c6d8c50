import Foundation

enum ConfigurationFiles {
    /// The OS's own words ("No such file or directory", "Permission denied") rather than Foundation's
    /// longer sentence, which on Linux names neither the cause nor the errno.
    static func describe(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError {
            if let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
                return String(cString: strerror(Int32(underlying.code)))
            }
            switch cocoa.code {
            case .fileReadNoSuchFile, .fileNoSuchFile: return String(cString: strerror(ENOENT))
            case .fileReadNoPermission: return String(cString: strerror(EACCES))
            case .fileReadInapplicableStringEncoding: return "the file is not UTF-8 text"
            default: return cocoa.localizedDescription
            }
        }
        if let posix = error as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return String(describing: error)
    }

    /// Editors and `echo` end files with a newline that is not part of the secret; exactly one is
    /// dropped so a secret that really ends in whitespace survives.
    static func secret(fromBytes contents: [UInt8]) -> [UInt8] {
        var bytes = contents[...]
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        return Array(bytes)
    }

    static func secret(fromContents contents: String) -> String {
        var scalars = contents.unicodeScalars
        if scalars.last == "\n" {
            scalars.removeLast()
            if scalars.last == "\r" { scalars.removeLast() }
        }
        return String(scalars)
    }
}

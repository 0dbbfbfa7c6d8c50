import Foundation

/// A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with openssl
/// (installed by `make deps`).
enum TestCertificates {
    struct Files {
        var caFile: String
        var certificateFile: String
        var keyFile: String
    }

    static func make(in directory: URL) throws -> Files {
        let dir = directory.path
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(dir)/ext.cnf", atomically: true, encoding: .utf8)
        let steps = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.pem", "-days", "1", "-subj", "/CN=portcullis-test-ca"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
             "-CAcreateserial", "-out", "\(dir)/server.pem", "-days", "1", "-extfile", "\(dir)/ext.cnf"],
        ]
        for arguments in steps {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = arguments
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            guard openssl.terminationStatus == 0 else {
                throw RawHTTPClient.ClientError(description: "openssl \(arguments[0]) failed")
            }
        }
        return Files(caFile: "\(dir)/ca.pem", certificateFile: "\(dir)/server.pem", keyFile: "\(dir)/server.key")
    }
}

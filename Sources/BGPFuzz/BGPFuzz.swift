// Fuzz target for the BGP decoder (libFuzzer). Tests/fuzz/run.sh builds it with -sanitize=fuzzer and
// -DBGP_LIBFUZZER, and main hands over to libFuzzer's driver (SwiftPM renames an executable's entry point,
// so libFuzzer's own main cannot be used); a normal build replays the files given as arguments.
import BGP

#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if let failure = CodecSelfCheck.check(input) {
        fatalError("codec round trip violated: \(failure)")
    }
    return 0
}

#if BGP_LIBFUZZER
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

    @main enum Fuzz {
        static func main() {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
        }
    }
#else
    /// Replays inputs (such as Tests/fuzz/crashes/*) through the same check; exits 1 if any fails.
    @main enum Replay {
        static func main() {
            var failures = 0
            for path in CommandLine.arguments.dropFirst() {
                guard let input = readFile(path) else {
                    print("\(path): cannot read")
                    failures += 1
                    continue
                }
                if let failure = CodecSelfCheck.check(input) {
                    print("\(path): \(failure)")
                    failures += 1
                } else {
                    print("\(path): ok")
                }
            }
            exit(failures == 0 ? 0 : 1)
        }

        static func readFile(_ path: String) -> [UInt8]? {
            guard let file = fopen(path, "rb") else { return nil }
            defer { fclose(file) }
            var input: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = fread(&buffer, 1, buffer.count, file)
                if count <= 0 { break }
                input += buffer[0..<count]
            }
            return input
        }
    }
#endif

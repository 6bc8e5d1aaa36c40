import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh path under the system temp folder, unique to the caller (not created; the code under
/// test creates it, or the test does).
public func makeTemporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    return FileManager.default.temporaryDirectory.path + "/tessera-test-\(safe)-\(UUID().uuidString.prefix(8))"
}

/// The permission bits of `path` (`stat`, so through a symbolic link), or nil if it does not exist.
/// Read here rather than through the code under test.
public func fileMode(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_mode & 0o777)
}

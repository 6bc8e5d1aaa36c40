#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Files and folders that hold secrets: folders 0700, files 0600, whatever the process umask.
///
/// Modes are passed to `mkdir`/`open` *and* then set with `chmod`/`fchmod`, because the umask
/// only ever removes bits and an existing path may carry looser ones.
public enum PrivateFiles {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let operation: String
        public let code: Int32
        /// What the operator should do, when Tessera refused on purpose.
        public var fix: String?

        public init(path: String, operation: String, code: Int32, fix: String? = nil) {
            self.path = path
            self.operation = operation
            self.code = code
            self.fix = fix
        }

        public var description: String {
            if let fix { return "refusing \(path): \(operation); \(fix)" }
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    /// Creates `path` (and missing parents, 0700) and makes it 0700.
    public static func ensureDirectory(_ path: String) throws(Failure) {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty, parent != path, !FileManager.default.fileExists(atPath: parent) {
                try ensureDirectory(parent)
            }
            if mkdir(path, 0o700) != 0, errno != EEXIST { throw Failure(path: path, operation: "mkdir", code: errno) }
        } else if !isDirectory.boolValue {
            throw Failure(path: path, operation: "mkdir", code: ENOTDIR)
        } else {
            try checkTrusted(directory: path)
        }
        if chmod(path, 0o700) != 0 { throw Failure(path: path, operation: "chmod", code: errno) }
    }

    /// An existing folder for secrets must be ours and writable by nobody else: in a folder that
    /// another user owns or may write to, files could have been planted or swapped (a symlink in
    /// place of the database, say) before we got there. Loose *read* bits are only tightened.
    public static func checkTrusted(directory path: String) throws(Failure) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure(path: path, operation: "stat", code: errno) }
        if info.st_uid != geteuid() {
            throw Failure(
                path: path, operation: "the state directory is owned by uid \(info.st_uid), not by this user (uid \(geteuid()))",
                code: EPERM, fix: "use a directory of your own, or: sudo chown $(id -u):$(id -g) \(path) && chmod 700 \(path)")
        }
        if info.st_mode & 0o022 != 0 {
            throw Failure(
                path: path, operation: String(format: "the state directory is writable by others (mode %o)", Int(info.st_mode & 0o777)),
                code: EPERM, fix: "check that nothing in it was planted, then: chmod 700 \(path)")
        }
    }

    /// Creates `path` empty if absent, and makes it 0600.
    ///
    /// A symlink at `path` is refused (never followed, never chmodded), as is anything that is not
    /// a regular file of ours.
    public static func ensureFile(_ path: String) throws(Failure) {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw symlinkRefusal(path) }
            throw Failure(path: path, operation: "open", code: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(path: path, operation: "stat", code: errno) }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else {
            throw Failure(path: path, operation: "not a regular file owned by this user", code: EPERM, fix: "move it away and start again")
        }
        if fchmod(fd, 0o600) != 0 { throw Failure(path: path, operation: "chmod", code: errno) }
    }

    /// Makes an existing file 0600; a missing one is not an error, a symlink is refused.
    public static func restrict(_ path: String) throws(Failure) {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw Failure(path: path, operation: "stat", code: errno)
        }
        if info.st_mode & S_IFMT == S_IFLNK { throw symlinkRefusal(path) }
        if chmod(path, 0o600) != 0, errno != ENOENT { throw Failure(path: path, operation: "chmod", code: errno) }
    }

    static func symlinkRefusal(_ path: String) -> Failure {
        Failure(
            path: path, operation: "it is a symbolic link (Tessera never follows links for its own files)", code: ELOOP,
            fix: "remove the link (rm \(path)) and check where it pointed")
    }

    /// Writes `data` so that a reader sees the old content or the new, never a mix: a 0600 temp
    /// file in the same folder, fsync, rename over the target, fsync of the folder.
    public static func writeAtomically(_ data: some Collection<UInt8>, to path: String) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temp = (directory.isEmpty ? "." : directory) + "/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: temp, operation: "open", code: errno) }
        var failure: Failure?
        if fchmod(fd, 0o600) != 0 { failure = Failure(path: temp, operation: "chmod", code: errno) }
        if failure == nil {
            do {
                try writeAll(Array(data), to: fd, path: temp)
            } catch {
                failure = error
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = Failure(path: temp, operation: "fsync", code: errno) }
        close(fd)
        if failure == nil, rename(temp, path) != 0 { failure = Failure(path: path, operation: "rename", code: errno) }
        if let failure {
            unlink(temp)
            throw failure
        }
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }

    /// Writes all of `bytes` to `fd` (`path` names it in the error), retrying short writes and
    /// interrupted ones.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(Failure) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, operation: "write", code: errno)
            }
            written += n
        }
    }

    /// The permission bits of `path`, for checks and tests.
    public static func mode(of path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode & 0o777)
    }
}

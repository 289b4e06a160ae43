import Foundation

/// The process's memory, CPU time and file descriptors, read from Linux's `/proc` when the
/// metrics are printed (nil elsewhere). Hand-written: the mirror has no library for it, and it is
/// three small files.
struct ProcessStats: Sendable {
    struct Reading {
        var residentBytes: Int
        var virtualBytes: Int
        var cpuSeconds: Double
        var startTimeSeconds: Double
        var openDescriptors: Int
        var maxDescriptors: Int
    }

    /// sysconf(_SC_CLK_TCK) and the page size are 100 and 4096 on every Linux the bridge runs on;
    /// read once anyway.
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = sysconf(Int32(_SC_PAGESIZE))
    /// When the machine booted (`btime` in `/proc/stat`), which the process's start is counted from:
    /// read once, so the start time does not move between scrapes.
    private let bootTime: Double? = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n")
        .first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) }

    func read() -> Reading? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let bootTime else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: fields start after ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields 3… of proc(5): utime is 14, stime 15, starttime 22, vsize 23, rss 24.
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23), let resident = field(24)
        else { return nil }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        let maxDescriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(limit.rlim_cur) : 0
        return Reading(
            residentBytes: Int(resident) * pageSize, virtualBytes: Int(virtual), cpuSeconds: (user + system) / ticksPerSecond,
            startTimeSeconds: bootTime + start / ticksPerSecond, openDescriptors: open, maxDescriptors: maxDescriptors)
    }
}

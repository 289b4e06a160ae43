import Foundation
import Handlers
import Synchronization

/// Progress of a long admin command (`migrate`, `rebuild-rollups`) on one line of a terminal's
/// standard error: `[3/12] INSERT INTO usage_daily · 41 s`, redrawn every second while a statement
/// runs. When standard error is not a terminal (a pipe, a file, a service's journal) it prints
/// nothing, so logs stay clean.
final class TerminalProgress: Sendable {
    private struct State {
        var line = ""
        var stepStarted = ContinuousClock.now
        var drawn = false
    }

    private let state = Mutex(State())
    private let enabled: Bool
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    /// Draws only when `enabled` (by default: standard error is a terminal).
    init(enabled: Bool = isatty(STDERR_FILENO) == 1) {
        self.enabled = enabled
    }

    /// A step starts: what `Migrator` and `AnalyticsStore.rebuildRollups` report.
    var report: Migrator.Progress? {
        guard enabled else { return nil }
        return { [self] index, count, label in
            state.withLock {
                $0.line = "[\(index)/\(count)] \(label)"
                $0.stepStarted = .now
            }
            draw()
            ticker.withLock { ticker in
                guard ticker == nil else { return }
                ticker = Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        self?.draw()
                    }
                }
            }
        }
    }

    /// Ends the line, so what is printed next starts on its own.
    func finish() {
        ticker.withLock { $0?.cancel() }
        // Under the lock, so a redraw already under way cannot land after the newline.
        state.withLock { state in
            if state.drawn { FileHandle.standardError.write(Data("\n".utf8)) }
            state.line = ""
        }
    }

    private func draw() {
        state.withLock { state in
            guard !state.line.isEmpty else { return }
            state.drawn = true
            let seconds = (ContinuousClock.now - state.stepStarted).components.seconds
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(state.line) · \(seconds) s".utf8))
        }
    }
}

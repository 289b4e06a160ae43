/// A small line diff (longest common subsequence) for `codegen --check`: generated files are a
/// few thousand lines at most, so the quadratic table is fine.
enum TextDiff {
    static func unified(old: String, new: String, oldName: String, newName: String, context: Int = 2) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false)
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        // Each line of the edit script: (" ", "-", "+"), the text, and the old line number.
        var script: [(mark: Character, text: Substring, line: Int)] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                script.append((" ", a[i], i + 1))
                i += 1
                j += 1
            } else if i < a.count, j == b.count || table[i + 1][j] >= table[i][j + 1] {
                script.append(("-", a[i], i + 1))
                i += 1
            } else {
                script.append(("+", b[j], i + 1))
                j += 1
            }
        }
        var output = ["--- \(oldName)", "+++ \(newName)"]
        var lastPrinted = -1
        for (index, entry) in script.enumerated() where entry.mark != " " {
            let start = max(index - context, lastPrinted + 1)
            if start > lastPrinted + 1 { output.append("@@ line \(script[start].line) @@") }
            for k in start...index where k > lastPrinted {
                output.append("\(script[k].mark)\(script[k].text)")
                lastPrinted = k
            }
            var k = index + 1
            while k < script.count, k <= index + context, script[k].mark == " " {
                output.append(" \(script[k].text)")
                lastPrinted = k
                k += 1
            }
        }
        return output.joined(separator: "\n")
    }
}

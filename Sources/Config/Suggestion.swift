// "Did you mean" for misspelt keys and values: the closest known word by edit distance, offered only
// when it is close enough to be a plausible typo.

/// The candidate closest to `word`, or nil when none is a plausible typo of it.
///
/// Distance is the optimal string alignment distance (insertions, deletions, substitutions and
/// transpositions of neighbours each cost 1) over lower-cased text, so `rpFiltre` suggests `rpFilter`
/// and `routerID` suggests `routerId`. A suggestion is made when the distance is at most a third of
/// the word's length (at least 1, at most 3). Words longer than any plausible key are not compared at
/// all, and candidates whose length alone is too far off are skipped, so the cost stays bounded by the
/// candidates' lengths, whatever the input (a 10 MB key once took 9 s here).
func closestMatch(to word: String, among candidates: [String]) -> String? {
    guard word.utf8.count <= maximumSuggestionInput else { return nil }
    let limit = min(3, max(1, word.count / 3))
    var best: (candidate: String, distance: Int)?
    for candidate in candidates where abs(candidate.count - word.count) <= limit {
        let distance = editDistance(word.lowercased(), candidate.lowercased())
        if distance <= limit, distance < best?.distance ?? Int.max {
            best = (candidate, distance)
        }
    }
    return best?.candidate
}

/// Longer words get no suggestion; the longest key or choice is far shorter.
let maximumSuggestionInput = 128

/// Optimal string alignment distance between two strings, counted in characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previousPrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], previousPrevious[j - 2] + 1)
            }
        }
        (previousPrevious, previous, current) = (previous, current, previousPrevious)
    }
    return previous[b.count]
}

import Foundation

/// ISO-8601 UTC with seconds, the format of every timestamp on the IAM wire.
enum WireTime {
    static func format(_ date: Date?) -> String {
        guard let date else { return "" }
        return date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon).timeZone(separator: .omitted)).replacingOccurrences(of: "+0000", with: "Z")
    }

    static func parse(_ string: String) -> Date? {
        if let date = try? Date(string, strategy: .iso8601) { return date }
        // Also accept a bare date (midnight UTC), the form operators type for an expiry.
        return try? Date(string + "T00:00:00Z", strategy: .iso8601)
    }
}

/// The version reported by `tessera version` and `GET /health`.
public enum TesseraVersion {
    public static let current = "0.1.0"
}

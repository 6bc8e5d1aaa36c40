extension GovernanceWire.EvaluationResult {
    /// The reason's rule alone (`resource_out_of_scope`), as audit events and spans carry it:
    /// the detail after it quotes the call's arguments (a path, an amount), values that may be
    /// secrets. The full reason stays in the receipt and in the answer to the agent.
    public var reasonRule: String? {
        guard let reason else { return nil }
        let rule = reason.prefix { $0 != ":" && $0 != " " }
        return rule.isEmpty ? nil : String(rule.prefix(128))
    }
}

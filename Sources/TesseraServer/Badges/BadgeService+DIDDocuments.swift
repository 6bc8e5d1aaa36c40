import TesseraCore
import TesseraStore

/// DID documents: those of the agents this registry hosts under `did:web` (served at
/// `/agents/<slug>/did.json`).
extension BadgeService {
    /// The DID document of a `did:web` agent this registry hosts.
    public func didDocument(slug: String) async throws -> DIDDocument {
        guard let did = DIDWeb.agentDID(registryOrigin: origin.current, slug: slug), DIDWeb(did) != nil,
            let agent = try await store.agents(did: did).first, let key = try? Ed25519PublicKey(jwk: agent.publicJWK)
        else { throw RegistryError.notFound("DID document not found") }
        return DIDDocument.forKey(did: did, key: key)
    }
}

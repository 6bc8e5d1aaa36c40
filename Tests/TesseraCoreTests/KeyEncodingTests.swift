import Foundation
import Testing

@testable import TesseraCore

@Suite("Keys, thumbprints and DIDs")
struct KeyEncodingTests {
    @Test("RFC 7638 §3.1 RSA thumbprint vector")
    func rfc7638RSAVector() throws {
        let jwk = JWK(
            kty: "RSA",
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            e: "AQAB", kid: "2011-04-29", alg: "RS256")
        #expect(try JWKThumbprint.compute(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test("RFC 8037 A.1–A.3: Ed25519 key and its thumbprint")
    func rfc8037Vectors() throws {
        let privateJWK = JWK(
            kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        let pair = try Ed25519KeyPair(jwk: privateJWK)
        #expect(pair.publicKey.jwk.x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        #expect(pair.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        #expect(try JWKThumbprint.compute(privateJWK) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    @Test("a private JWK whose x does not belong to d is refused")
    func mismatchedPrivateKey() {
        let other = Ed25519KeyPair()
        var jwk = Ed25519KeyPair().privateJWK
        jwk.x = other.publicKey.jwk.x
        #expect(throws: KeyError.publicKeyMismatch) { try Ed25519KeyPair(jwk: jwk) }
    }

    @Test("non-Ed25519 and damaged JWKs are refused with the member named")
    func invalidJWKs() {
        #expect(throws: KeyError.unsupportedKeyType("EC/P-256")) {
            try Ed25519PublicKey(jwk: JWK(kty: "EC", crv: "P-256", x: "AA", y: "AA"))
        }
        #expect(throws: KeyError.missingMember("x")) { try Ed25519PublicKey(jwk: JWK(kty: "OKP", crv: "Ed25519")) }
        #expect(throws: KeyError.invalidMember("x")) {
            try Ed25519PublicKey(jwk: JWK(kty: "OKP", crv: "Ed25519", x: "AAAA"))
        }
        #expect(throws: KeyError.missingMember("n")) { try JWKThumbprint.compute(JWK(kty: "RSA", e: "AQAB")) }
    }

    @Test(
        "did:key vectors from the did:key method specification",
        arguments: [
            // publicKeyBase58 → did, from the did:key spec's Ed25519 examples.
            ("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K", "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th"),
        ])
    func didKeyFromBase58(publicKeyBase58: String, did: String) throws {
        let raw = try #require(Base58.decode(publicKeyBase58))
        let key = try Ed25519PublicKey(raw: raw)
        #expect(key.did == did)
        #expect(try DIDKey.decode(did) == key)
    }

    @Test("did:key from a JWK (did:key spec example)")
    func didKeyFromJWK() throws {
        let key = try Ed25519PublicKey(
            jwk: JWK(kty: "OKP", crv: "Ed25519", x: "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"))
        #expect(key.did == "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
        let fragment = key.did + "#" + String(key.did.dropFirst("did:key:".count))
        #expect(try DIDKey.decode(fragment) == key)
    }

    @Test("malformed did:key values are refused")
    func invalidDIDs() {
        for did in ["did:web:example.com", "did:key:z0OIl", "did:key:z6Mk", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"] {
            #expect(throws: KeyError.self, "\(did)") { try DIDKey.decode(did) }
        }
    }

    @Test("base58 keeps leading zero bytes")
    func base58LeadingZeros() {
        let bytes: [UInt8] = [0, 0, 1, 2, 255]
        #expect(Base58.encode(bytes).hasPrefix("11"))
        #expect(Base58.decode(Base58.encode(bytes)) == bytes)
        #expect(Base58.decode("0OIl") == nil)
    }

    @Test("base64url is strict: no padding, no standard alphabet, canonical trailing bits")
    func base64URLStrict() {
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
        #expect(Base64URL.decode("-_8=") == nil)
        #expect(Base64URL.decode("+/8") == nil)
        #expect(Base64URL.decode("-_9") == nil)  // same bytes, non-zero unused bits
        #expect(Base64URL.decode("A") == nil)
        #expect(Base64URL.decode("") == [])
    }
}

// Array buffer access for functions that throw `CryptoError`: the standard library's `withUnsafe...Bytes`
// rethrow untyped errors, so these carry the typed error across through a `Result`.

extension Array where Element == UInt8 {
    /// `withUnsafeMutableBytes` for a body that throws only `CryptoError`.
    mutating func withCryptoBytes<Value>(_ body: (UnsafeMutableRawBufferPointer) throws(CryptoError) -> Value)
        throws(CryptoError) -> Value
    {
        let result = withUnsafeMutableBytes { buffer in Result { () throws(CryptoError) in try body(buffer) } }
        return try result.get()
    }

    /// `withUnsafeBytes` for a body that throws only `CryptoError`.
    func withCryptoBytes<Value>(_ body: (UnsafeRawBufferPointer) throws(CryptoError) -> Value) throws(CryptoError)
        -> Value
    {
        let result = withUnsafeBytes { buffer in Result { () throws(CryptoError) in try body(buffer) } }
        return try result.get()
    }
}

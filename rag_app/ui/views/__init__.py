"""Page scripts for ``st.navigation`` (each one calls its page function)."""
